"""The review page's queries: the filtered list of checks and the stats (no Flask in here).

Sized for a check log of 100k rows and more on SQLite:

- the list is paged by (created_at, id), not OFFSET, so every page reads only its
  own rows off an index (``ix_checks_created_at``, ``ix_checks_site_created``);
- the number of matches is counted only when it is not already known from the
  page itself, and never past :data:`COUNT_CAP`;
- the site list is read with a loose index scan (one index probe per site);
- the stats read one covering index (``ix_checks_stats``) once, and corrections
  start from the labels, which are few, not from the checks.

Search is a case-insensitive substring match (ASCII case on SQLite) on the comment,
author, e-mail, URL and IP, so that parts of addresses and domains are found; it is
the one filter that can read every row (about a tenth of a second per 100k checks).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select, tuple_
from sqlalchemy.orm import Session

from .db import SITE_CHARS, Check, Label, utcnow
from .moderators import may_see, site_clause

VERDICTS = ("spam", "ham", "discard")
SPAM_VERDICTS = ("spam", "discard")
LABEL_FILTERS = ("no", "any", "spam", "ham")
SEARCH_TERMS = 8  # at most this many words are searched for, each at most TERM_CHARS long
TERM_CHARS = 200
COUNT_CAP = 10_000  # "more than 10,000": an exact count of a huge result would read every row
GUID = re.compile(r"[0-9a-f]{32}")
IP_CHARS = re.compile(r"[0-9a-fA-F.:]+")


@dataclass(frozen=True)
class Filters:
    """The list's query string, parsed; a value that does not parse is dropped, not an error."""

    site: str = ""
    verdict: str = ""
    min_score: float | None = None
    max_score: float | None = None
    labelled: str = ""
    since: date | None = None
    until: date | None = None
    q: str = ""

    @classmethod
    def parse(cls, args: Mapping[str, str]) -> Filters:
        def score(name: str) -> float | None:
            try:
                value = float(args.get(name, ""))
            except ValueError:
                return None
            return value if 0.0 <= value <= 1.0 else None

        def day(name: str) -> date | None:
            try:
                return date.fromisoformat(args.get(name, "").strip())
            except ValueError:
                return None

        verdict, labelled = args.get("verdict", ""), args.get("labelled", "")
        return cls(
            site=args.get("site", "").strip()[:SITE_CHARS],
            verdict=verdict if verdict in VERDICTS else "",
            min_score=score("min_score"),
            max_score=score("max_score"),
            labelled=labelled if labelled in LABEL_FILTERS else "",
            since=day("since"),
            until=day("until"),
            q=args.get("q", "").strip()[:1000],
        )

    def query_args(self) -> dict[str, str]:
        """The filters set, as query-string arguments, to keep them across links."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value not in (None, ""):
                out[f.name] = value.isoformat() if isinstance(value, date) else str(value)
        return out

    @property
    def active(self) -> bool:
        return bool(self.query_args())


def search_terms(q: str) -> list[str]:
    """Words and "quoted phrases" of a search; a check must contain every one."""
    terms = [a or b for a, b in re.findall(r'"([^"]+)"|(\S+)', q)]
    return [t[:TERM_CHARS] for t in terms if t.strip()][:SEARCH_TERMS]


def _matches(term: str, dialect: str) -> ColumnElement[bool]:
    """The check contains ``term`` in one of its text columns (or is the check with that guid)."""
    columns = [Check.content, Check.author, Check.author_email, Check.author_url]
    if IP_CHARS.fullmatch(term):
        columns.append(Check.user_ip)
    # SQLite's LIKE already ignores ASCII case; lower() on every row would double the cost.
    if dialect == "sqlite":
        clauses = [c.contains(term, autoescape=True) for c in columns]
    else:
        clauses = [c.icontains(term, autoescape=True) for c in columns]
    if GUID.fullmatch(term.lower()):
        clauses.append(Check.guid == term.lower())
    return or_(*clauses)


def filtered(stmt: Select[Any], f: Filters, sites: Sequence[str], dialect: str) -> Select[Any]:
    """``stmt`` narrowed to ``f`` and the moderator's ``sites``; it must join labels if ``f.labelled``."""
    stmt = stmt.where(site_clause(Check.site, sites))
    if f.site:
        stmt = stmt.where(Check.site == f.site)
    if f.verdict:
        stmt = stmt.where(Check.verdict == f.verdict)
    if f.min_score is not None:
        stmt = stmt.where(Check.score >= f.min_score)
    if f.max_score is not None:
        stmt = stmt.where(Check.score <= f.max_score)
    if f.since:
        stmt = stmt.where(Check.created_at >= datetime.combine(f.since, time()))
    if f.until:
        stmt = stmt.where(Check.created_at < datetime.combine(f.until + timedelta(days=1), time()))
    if f.labelled == "no":
        stmt = stmt.where(Label.id.is_(None))
    elif f.labelled == "any":
        stmt = stmt.where(Label.id.is_not(None))
    elif f.labelled:
        stmt = stmt.where(Label.label == f.labelled)
    for term in search_terms(f.q):
        stmt = stmt.where(_matches(term, dialect))
    return stmt


def cursor_of(check: Check) -> str:
    return f"{check.created_at.isoformat()}_{check.id}"


def parse_cursor(text: str | None) -> tuple[datetime, int] | None:
    if not text:
        return None
    stamp, _, ident = text.rpartition("_")
    try:
        return datetime.fromisoformat(stamp), int(ident)
    except ValueError:
        return None


@dataclass
class Page:
    rows: list[tuple[Check, Label | None]]
    older: str | None  # cursor for the next page (older checks), if there is one
    newer: str | None  # cursor for the previous page (newer checks), if there is one
    count: int  # matching checks, at most COUNT_CAP
    count_capped: bool  # more than COUNT_CAP match


def list_page(
    db: Session, f: Filters, sites: Sequence[str], size: int, before: str | None = None, after: str | None = None
) -> Page:
    """One page of matching checks with their labels, newest first.

    ``before`` gives the page after that cursor (older checks), ``after`` the page
    before it (newer checks): both are (created_at, id) positions, so a deep page
    costs what the first one does.
    """
    dialect = db.get_bind().dialect.name
    # Find the page's ids first, then load those rows: sorting carries ids, not whole comments.
    matching = select(Check.id)
    if f.labelled:  # the join costs a probe per row: only when the filter needs it
        matching = matching.outerjoin(Label, Label.check_guid == Check.guid)
    matching = filtered(matching, f, sites, dialect)
    at: Any = Check.created_at
    if f.q and dialect == "sqlite":
        # Walking the created_at index visits rows in random order, 3 times slower than reading
        # the table straight through when few rows match: hide the index and sort the matches.
        at = func.coalesce(Check.created_at, Check.created_at)
    position = tuple_(at, Check.id)
    after_at, before_at = parse_cursor(after), parse_cursor(before)
    if after_at:  # towards newer checks: read upwards from the cursor, then turn the page around
        ids = list(db.scalars(matching.where(position > tuple_(*after_at)).order_by(at, Check.id).limit(size + 1)))
        more = len(ids) > size
        ids = ids[:size][::-1]
    else:
        stmt = matching.where(position < tuple_(*before_at)) if before_at else matching
        ids = list(db.scalars(stmt.order_by(at.desc(), Check.id.desc()).limit(size + 1)))
        more = len(ids) > size
        ids = ids[:size]
    loaded = {
        c.id: (c, lb)
        for c, lb in db.execute(
            select(Check, Label).outerjoin(Label, Label.check_guid == Check.guid).where(Check.id.in_(ids))
        )
    }
    rows = [loaded[i] for i in ids if i in loaded]
    if after_at:
        older = cursor_of(rows[-1][0]) if rows else None
        newer = cursor_of(rows[0][0]) if rows and more else None
    else:
        older = cursor_of(rows[-1][0]) if rows and more else None
        newer = cursor_of(rows[0][0]) if rows and before_at else None
    if not (after_at or before_at or more):
        count = len(rows)  # the whole result is on this page: no need to count it again
    else:
        count = db.scalar(select(func.count()).select_from(matching.limit(COUNT_CAP + 1).subquery())) or 0
    return Page(rows, older, newer, min(count, COUNT_CAP), count > COUNT_CAP)


def visible_sites(db: Session, sites: Sequence[str]) -> list[str]:
    """The distinct sites in the check log that the moderator may see, for the site filter.

    A recursive query steps from one site to the next on the site index: one index
    probe per site instead of reading the whole log.
    """
    step = select(func.min(Check.site).label("site")).cte("sites", recursive=True)
    following = select(func.min(Check.site)).where(Check.site > step.c.site).scalar_subquery()
    step = step.union_all(select(following).where(step.c.site.is_not(None)))
    found = db.scalars(select(step.c.site).where(step.c.site.is_not(None)))
    return sorted(s for s in found if may_see(sites, s))


# --- stats -------------------------------------------------------------------------------------------------


@dataclass
class VersionFigures:
    """What one model version decided in the period, and how moderators corrected it."""

    version: str
    checks: int = 0
    spam: int = 0  # checked spam or discard
    labels: int = 0  # labels naming one of these checks
    false_positives: int = 0  # checked spam or discard, labelled ham
    false_negatives: int = 0  # checked ham, labelled spam

    @property
    def spam_share(self) -> float:
        return self.spam / self.checks if self.checks else 0.0


def _day(value: Any) -> str:
    """func.date() gives a date on PostgreSQL and a string on SQLite."""
    return value.isoformat() if isinstance(value, date) else str(value)


@dataclass
class Stats:
    days: list[str]  # every UTC day of the period, oldest first
    checks_per_day: dict[str, dict[str, int]]  # day -> verdict -> checks
    labels_per_day: dict[str, dict[str, int]]  # day -> label -> labels stored or changed that day
    labels_by_source: dict[str, int]
    versions: list[VersionFigures]

    @property
    def checks_total(self) -> int:
        return sum(sum(v.values()) for v in self.checks_per_day.values())

    @property
    def spam_total(self) -> int:
        return sum(v.get("spam", 0) + v.get("discard", 0) for v in self.checks_per_day.values())

    @property
    def spam_share(self) -> float:
        return self.spam_total / self.checks_total if self.checks_total else 0.0

    @property
    def labels_total(self) -> int:
        return sum(self.labels_by_source.values())


def stats(db: Session, sites: Sequence[str], days: int, today: date | None = None) -> Stats:
    """Checks, labels and corrections over the last ``days`` UTC days (today included), test calls left out.

    Corrections are counted per model version for checks in the period; a label
    counts against the check it names (``labels.check_guid``).
    """
    first = (today or utcnow().date()) - timedelta(days=days - 1)
    since = datetime.combine(first, time())
    in_period = (Check.created_at >= since, Check.is_test.is_(False), site_clause(Check.site, sites))

    per_day: dict[str, dict[str, int]] = {}
    versions: dict[str, VersionFigures] = {}
    day = func.date(Check.created_at)
    for d, verdict, version, n in db.execute(
        select(day, Check.verdict, Check.model_version, func.count())
        .where(*in_period)
        .group_by(day, Check.verdict, Check.model_version)
    ):
        counts = per_day.setdefault(_day(d), {})
        counts[verdict] = counts.get(verdict, 0) + n
        row = versions.setdefault(version, VersionFigures(version))
        row.checks += n
        row.spam += n if verdict in SPAM_VERDICTS else 0

    for version, verdict, label, n in db.execute(
        select(Check.model_version, Check.verdict, Label.label, func.count())
        .join(Label, Label.check_guid == Check.guid)  # the join keeps labelled checks only
        .where(*in_period)
        .group_by(Check.model_version, Check.verdict, Label.label)
    ):
        row = versions.setdefault(version, VersionFigures(version))
        row.labels += n
        if label == "ham" and verdict in SPAM_VERDICTS:
            row.false_positives += n
        elif label == "spam" and verdict == "ham":
            row.false_negatives += n

    label_day = func.date(Label.updated_at)
    labels_where = (Label.updated_at >= since, site_clause(Label.site, sites))
    labels_per_day: dict[str, dict[str, int]] = {}
    by_source: dict[str, int] = {}
    for d, label, source, n in db.execute(
        select(label_day, Label.label, Label.source, func.count())
        .where(*labels_where)
        .group_by(label_day, Label.label, Label.source)
    ):
        counts = labels_per_day.setdefault(_day(d), {})
        counts[label] = counts.get(label, 0) + n
        by_source[source] = by_source.get(source, 0) + n

    return Stats(
        days=[(first + timedelta(days=i)).isoformat() for i in range(days)],
        checks_per_day=per_day,
        labels_per_day=labels_per_day,
        labels_by_source=by_source,
        versions=sorted(versions.values(), key=lambda v: v.version, reverse=True),
    )


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: str
    title: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    top: int  # the count a full-height bar stands for
    bars: list[Bar]
    ticks: list[tuple[float, str]]  # (x, day) labels along the bottom
    series: list[str]


def bar_chart(
    days: list[str], counts: dict[str, dict[str, int]], series: Sequence[str], width: int = 720, height: int = 160
) -> Chart:
    """Stacked bars per day, as numbers for an inline SVG that the template draws (and escapes)."""
    top = max((sum(counts.get(d, {}).get(s, 0) for s in series) for d in days), default=0) or 1
    step = width / max(len(days), 1)
    bars = []
    for i, d in enumerate(days):
        y = float(height)
        for s in series:
            n = counts.get(d, {}).get(s, 0)
            if n:
                h = n / top * height
                y -= h
                bars.append(
                    Bar(
                        round(i * step + step * 0.1, 2),
                        round(y, 2),
                        round(step * 0.8, 2),
                        round(h, 2),
                        s,
                        f"{d}: {n} {s}",
                    )
                )
    ticks = [(round(i * step, 2), d) for i, d in enumerate(days) if i % max(1, len(days) // 6) == 0]
    return Chart(width, height, top, bars, ticks, list(series))


def figure_tables(scores: Any, path: str = "") -> list[tuple[str, dict[str, float]]]:
    """The evaluation figures in a model's metadata, as (name, {figure: value}) rows.

    The shipped model and retrained versions nest their scores differently
    (``all``/``per_corpus``; ``cross_validation``/``gate``), so every dict of numbers
    is one row, named by its path.
    """
    if not isinstance(scores, dict):
        return []
    numbers = {k: v for k, v in scores.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    rows = [(path or "scores", numbers)] if numbers and len(numbers) >= len(scores) - 1 else []
    for key, value in scores.items():
        if isinstance(value, dict):
            rows += figure_tables(value, f"{path} / {key}" if path else str(key))
    return rows
