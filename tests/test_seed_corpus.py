"""The seed corpus is what data/README.md says it is, and holds nothing copied from the shared corpora."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest

from spamfilter.corpora import DEFAULT_CORPORA, SEED_DIR

README = SEED_DIR.parent / "README.md"
SITES = {
    *("academic-blog", "cooking-blog", "diy-home-blog", "fitness-blog", "french-travel-blog", "gaming-forum"),
    *("gardening-forum", "german-tech-blog", "linux-forum", "music-forum", "news-site", "parenting-forum"),
    *("personal-finance-blog", "photography-blog", "python-dev-blog", "small-business-blog"),
    *("spanish-recipes-blog", "travel-blog"),
}


def _rows(name: str) -> list[dict[str, str]]:
    with (SEED_DIR / f"{name}.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


SPAM, HAM_BLOG, HAM_FORUM = _rows("spam"), _rows("ham_blog"), _rows("ham_forum")
ALL = SPAM + HAM_BLOG + HAM_FORUM


def _letters(text: str) -> str:
    """The key near-copies share: lower-cased letters only (any script)."""
    return "".join(filter(str.isalpha, text.lower()))


def _readme_section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(title)
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else None]


def test_rows_are_well_formed() -> None:
    assert len({r["id"] for r in ALL}) == len(ALL)
    assert {r["label"] for r in SPAM} == {"spam"} and {r["label"] for r in HAM_BLOG + HAM_FORUM} == {"ham"}
    assert {r["site"] for r in ALL} <= SITES
    assert all(r["text"].strip() and r["genre"] for r in ALL)


def test_no_text_is_repeated_or_under_both_labels() -> None:
    keys = Counter(_letters(r["text"]) for r in ALL)
    # Short replies ("Source?", "Well said.") occur on several sites, as they do on the web.
    assert not {k for k, n in keys.items() if n > 1 and len(k) >= 25}
    spam = {_letters(r["text"]) for r in SPAM} - {""}  # "..." and emoji-only rows have no letters
    assert not spam & {_letters(r["text"]) for r in HAM_BLOG + HAM_FORUM}


def test_size_and_genres_are_what_the_readme_says() -> None:
    assert len(ALL) >= 1500 and 0.3 <= len(SPAM) / len(ALL) <= 0.4
    totals = re.search(r"([\d,]+) comments, ([\d,]+) \(\d+%\) spam", README.read_text(encoding="utf-8"))
    assert totals and [int(g.replace(",", "")) for g in totals.groups()] == [len(ALL), len(SPAM)]
    section = _readme_section("## Genre counts")
    spam_table, ham_table = section.split("Ham (")
    # spam rows hold two "| genre (note) | rows |" pairs; ham rows two "| genre | blog | forum |" triples
    spam_doc = {g: int(n) for g, n in re.findall(r"\| ([a-z-]+)(?: \([^|]*\))? \| (\d+) ", spam_table)}
    ham_doc = {g: (int(b), int(f)) for g, b, f in re.findall(r"\| ([a-z-]+) \| (\d+) \| (\d+) ", ham_table)}
    assert spam_doc == Counter(r["genre"] for r in SPAM)
    assert len(spam_doc) >= 12
    blog, forum = Counter(r["genre"] for r in HAM_BLOG), Counter(r["genre"] for r in HAM_FORUM)
    assert ham_doc == {g: (blog[g], forum[g]) for g in blog | forum}


@pytest.mark.skipif(not DEFAULT_CORPORA.is_dir(), reason=f"shared corpora not found at {DEFAULT_CORPORA}")
def test_nothing_is_copied_from_the_shared_corpora() -> None:
    ours = {_letters(r["text"]) for r in ALL} - {""}
    for path in sorted(Path(DEFAULT_CORPORA).glob("*/data.csv")):
        with path.open(newline="", encoding="utf-8") as f:
            theirs = {_letters(row["text"]) for row in csv.DictReader(f)}
        # Only texts long enough to be written, not "thanks" or "nice video", which anyone writes.
        copied = {t for t in ours & theirs if len(t) >= 25}
        assert not copied, f"{path.parent.name}: {sorted(copied)[:3]}"
