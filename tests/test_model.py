"""The shipped model loads only when its metadata vouches for it, and scores sensibly."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from spamfilter import model as model_io
from spamfilter.config import DEFAULT_MODEL_PATH
from spamfilter.errors import ModelError
from spamfilter.features import LogCountRatio, meta_row, prepare


@pytest.fixture
def model_copy(tmp_path: Path) -> Path:
    target = tmp_path / "m.joblib"
    shutil.copy(DEFAULT_MODEL_PATH, target)
    shutil.copy(model_io.metadata_path(DEFAULT_MODEL_PATH), model_io.metadata_path(target))
    return target


def _edit_metadata(path: Path, **changes: object) -> None:
    meta_path = model_io.metadata_path(path)
    meta = json.loads(meta_path.read_text())
    meta.update(changes)
    meta_path.write_text(json.dumps(meta))


def test_shipped_model_metadata_names_corpora_scores_and_threshold() -> None:
    meta = json.loads(model_io.metadata_path(DEFAULT_MODEL_PATH).read_text())
    assert {c["name"] for c in meta["corpora"]} >= {"youtube_uci", "sms_spam_collection", "instagram_scamspot"}
    assert all(len(c["sha256"]) == 64 for c in meta["corpora"])
    assert 0 < meta["threshold"] <= meta["discard_threshold"] < 1
    assert {c["name"] for c in meta["corpora"]} >= {"blog_seed"}  # the seed corpus written for this project
    per_corpus = meta["scores"]["cross_validation"]["per_corpus"]
    assert all(per_corpus[c]["roc_auc"] > 0.95 for c in per_corpus), per_corpus
    assert meta["scores"]["evaluation_slice"]["ham_blocked"] <= 0.01


def test_loads_and_scores(model_copy: Path) -> None:
    m = model_io.load(model_copy)
    spam, ham = m.score(
        [
            {"content": "WIN a FREE iPhone!!! claim now at www.free-prize-winner.xyz, text 0800 555 0100"},
            {"content": "Could you share the SQL for the second query? Mine returns duplicates."},
        ],
        reasons=3,
    )
    assert spam.score > ham.score
    assert 0 <= ham.score <= 1 and 0 <= spam.score <= 1
    assert len(spam.reasons) == 3 and spam.reasons[0].weight > 0


def test_refuses_altered_file(model_copy: Path) -> None:
    with model_copy.open("ab") as f:
        f.write(b"\0")
    with pytest.raises(ModelError, match="sha256"):
        model_io.load(model_copy)


def test_refuses_other_sklearn_version(model_copy: Path) -> None:
    _edit_metadata(model_copy, sklearn_version="0.0.1")
    with pytest.raises(ModelError, match=r"scikit-learn 0\.0\.1"):
        model_io.load(model_copy)


def test_refuses_other_feature_set(model_copy: Path) -> None:
    _edit_metadata(model_copy, meta_features=["links"])
    with pytest.raises(ModelError, match="metadata features"):
        model_io.load(model_copy)


def test_refuses_missing_metadata(model_copy: Path) -> None:
    model_io.metadata_path(model_copy).unlink()
    with pytest.raises(ModelError, match="missing"):
        model_io.load(model_copy)


def test_refuses_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        model_io.load(tmp_path / "none.joblib")


# Written for this test: comments of the shapes the featuriser must handle (links, markup,
# metadata, non-Latin script, nothing at all), not rows of any corpus.
VARIED_RECORDS: list[dict[str, str]] = [
    {"content": "Great recipe, thanks! I swapped the butter for olive oil and it still worked."},
    {"content": 'Cheap <a href="https://pills-now.example/buy">pharmacy</a> online, no prescription!!!'},
    {"content": "Call +1 (888) 555-0142 now for instant loan approval, $5,000 in 24 hours"},
    {"content": "", "author": "seo expert agency", "url": "https://rank-fast.example/services/seo"},
    {"content": "Спасибо за статью, очень полезно.", "author": "Ольга", "email": "olga@example.ru"},
    {"content": "Visit w w w . casino-royal . example for free spins", "user_agent": "python-requests/2.31"},
    {"content": "def f(x):\n    return x * 2  # why does this fail on None?", "comment_type": "reply"},
    {"content": "sooooo goooood!!!! 😍😍", "referrer": "https://elsewhere.example/", "blog": "https://blog.example"},
    {},
]


def test_scoring_matches_the_pipeline() -> None:
    """Model.score featurises comments itself (for speed); it must agree with scikit-learn."""
    m = model_io.load(DEFAULT_MODEL_PATH)
    reference = m.pipeline.predict_proba(VARIED_RECORDS)[:, 1]
    one_by_one = [m.score([r], reasons=3)[0] for r in VARIED_RECORDS]
    batched = m.score(VARIED_RECORDS * 3, reasons=3)[: len(VARIED_RECORDS)]
    for ref, single, batch in zip(reference, one_by_one, batched, strict=True):
        assert single.score == pytest.approx(ref, abs=1e-6)
        assert batch.score == pytest.approx(ref, abs=1e-6)
        assert [r.feature for r in single.reasons] == [r.feature for r in batch.reasons]


def test_long_author_names_are_not_a_spam_signal() -> None:
    """Many people's names have four parts or more; the retired author_long column stays 0."""
    m = model_io.load(DEFAULT_MODEL_PATH)
    text = "Loved the photos of the harbour, we were there last spring."
    short, long = m.score([{"content": text, "author": "Linh"}, {"content": text, "author": "Linh Tran Thi Mai"}])
    assert long.score < short.score + 0.05
    row = meta_row(prepare({"content": text, "author": "María José García López"}))
    assert row["author_long"] == 0.0


def test_a_batch_gets_each_comment_s_own_feature_row() -> None:
    """A batch weighs all its comments' terms at once; each row must be the one the comment gets alone."""
    m = model_io.load(DEFAULT_MODEL_PATH)
    records = [{}, *VARIED_RECORDS[::-1], {}, VARIED_RECORDS[0]]  # empty rows first, last and in between
    rows, decisions = m._linear.features_and_decisions(records)
    assert len(rows) == len(decisions) == len(records)
    for record, (cols, values), decision in zip(records, rows, decisions, strict=True):
        [(alone_cols, alone_values)], [alone_decision] = m._linear.features_and_decisions([record])
        assert cols.tolist() == alone_cols.tolist()
        assert values == pytest.approx(alone_values, rel=1e-12)
        assert decision == pytest.approx(alone_decision, abs=1e-9)
    nothing, no_decisions = m._linear.features_and_decisions([])
    assert nothing == [] and len(no_decisions) == 0


# Edge cases of character n-grams: one-letter and long words, runs of spaces and other
# white space, characters no vocabulary term has (emoji, CJK, control), upper case.
CHAR_TEXTS = [
    "",
    "   ",
    "a",
    "a b c d",
    "I  said\t\tno\n\nway",
    "Supercalifragilisticexpialidocious pneumonoultramicroscopic",
    "buy 💊💊 now 🎰 казино 赌场 \x00\x01 end",
    "ÉCOLE Straße İstanbul ǅ",
    "x" * 3000,
]


@pytest.mark.parametrize("text", CHAR_TEXTS)
def test_character_ngram_counts_match_the_analyzer(text: str) -> None:
    """The numpy n-gram counter gives exactly the analyzer's terms and counts, term by term."""
    m = model_io.load(DEFAULT_MODEL_PATH)
    for _name, part in m.pipeline.steps[1][1].transformer_list:
        vectorizer = part.named_steps["tfidf"] if hasattr(part, "steps") else None
        if vectorizer is None or vectorizer.analyzer != "char_wb":
            continue
        grams = model_io._CharGrams.of(vectorizer)
        assert grams is not None
        columns, counts = grams.counts(text)
        expected = Counter(t for t in vectorizer.build_analyzer()(text) if t in vectorizer.vocabulary_)
        names = vectorizer.get_feature_names_out()
        got = {names[c]: n for c, n in zip(columns, counts, strict=True)}
        assert got == dict(expected)
        return
    pytest.fail("the shipped model has no char_wb part")


def test_character_ngrams_that_do_not_fit_integer_codes_use_the_analyzer() -> None:
    # A NUL inside a term would read as padding; a 6-character n-gram needs 72 bits.
    with_nul = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5)).fit(["ab\x00cd ef", "ab cd"])
    too_long = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 6)).fit(["abcdef ghijkl"])
    words = TfidfVectorizer().fit(["some words here"])
    assert [model_io._CharGrams.of(v) for v in (with_nul, too_long, words)] == [None, None, None]
    fits = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5)).fit(["ab cd ef", "abc"])
    grams = model_io._CharGrams.of(fits)
    assert grams is not None
    columns, counts = grams.counts("abc ab")
    names = fits.get_feature_names_out()
    expected = Counter(t for t in fits.build_analyzer()("abc ab") if t in fits.vocabulary_)
    assert {names[c]: n for c, n in zip(columns, counts, strict=True)} == dict(expected)


def test_log_count_ratio_scales_each_column_by_its_class_balance() -> None:
    """A term of spam only weighs positive, of ham only negative, of both alike about nothing;
    the transform is the input times those scales, column by column."""
    X = sparse.csr_matrix(np.array([[1.0, 0, 1], [2.0, 0, 1], [0, 1.0, 1], [0, 2.0, 1]]))
    y = [1, 1, 0, 0]
    soft = LogCountRatio(alpha=0.1, power=0.5).fit(X, y)
    full = LogCountRatio(alpha=0.1, power=1.0).fit(X, y)
    assert soft.scale_[0] > 0 > soft.scale_[1]
    assert soft.scale_[2] == pytest.approx(0.0, abs=1e-9)
    assert np.abs(soft.scale_) == pytest.approx(np.sqrt(np.abs(full.scale_)))
    assert soft.transform(X).toarray() == pytest.approx(X.toarray() * soft.scale_)
    with pytest.raises(ValueError, match="both spam"):
        LogCountRatio().fit(X, [1, 1, 1, 1])


# Written for this test: a tiny training set in which words repeat enough to pass min_df.
TINY_TRAINING = [
    ("cheap pills online buy now cheap pills", 1),
    ("buy cheap pills now online pharmacy", 1),
    ("online casino bonus buy now free spins", 1),
    ("free spins casino bonus online now", 1),
    ("cheap loans online buy now fast cash", 1),
    ("fast cash loans cheap online now", 1),
    ("thanks for the recipe, the bread came out well", 0),
    ("the bread recipe worked, thanks for the post", 0),
    ("great post, I tried the recipe with less salt", 0),
    ("less salt worked well in the bread, great post", 0),
    ("thanks, the post answered my question about salt", 0),
    ("my question: does the recipe work with rye bread?", 0),
]


@pytest.mark.parametrize("scaled", [True, False])
def test_fast_scoring_matches_with_and_without_word_scaling(scaled: bool) -> None:
    """Models trained before the log-count ratio step existed have no such step and still score."""
    pipeline = model_io.build_pipeline()
    words = pipeline.named_steps["features"].transformer_list[0][1]
    if not scaled:
        words.steps = [s for s in words.steps if s[0] != "scale"]
    records = [{"content": text} for text, _ in TINY_TRAINING]
    pipeline.fit(records, [label for _, label in TINY_TRAINING])
    if scaled:  # the step is there and does scale: the check below compares something
        assert not np.allclose(words.named_steps["scale"].scale_, 1.0)
    m = model_io.Model(pipeline, {"version": "tiny", "threshold": 0.5, "discard_threshold": 0.9})
    probe = [*VARIED_RECORDS, {"content": "buy cheap pills, thanks for the bread recipe"}]
    reference = pipeline.predict_proba(probe)[:, 1]
    assert [s.score for s in m.score(probe)] == pytest.approx(reference, abs=1e-6)
    assert [m.score([r])[0].score for r in probe] == pytest.approx(reference, abs=1e-6)
