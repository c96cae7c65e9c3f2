"""The classifier: how it is built, saved with its metadata, loaded and asked.

A model is two files side by side: ``NAME.joblib`` (the fitted pipeline) and
``NAME.json`` (metadata: version, threshold, data it was trained on, measured
scores, and the file's sha256). A pickle runs code when loaded and is only
trustworthy with the exact scikit-learn it was made with, so :func:`load` refuses
a file whose checksum or library version does not match its metadata.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import Any, NamedTuple

import joblib
import numpy as np
import sklearn
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from .errors import ModelError
from .features import (
    META_NAMES,
    LogCountRatio,
    MetaFeatures,
    OptionalTfidf,
    Prepare,
    Prepared,
    Record,
    Select,
    meta_row,
    prepare,
)
from .text import word_tokens

FORMAT = 1


def build_pipeline(C: float = 8.0) -> Pipeline:
    """The untrained pipeline: records -> cleaned text -> n-grams + metadata -> calibrated LR.

    Each text part is select -> TF-IDF, the words then scaled by their log-count ratio."""

    def text_vectorizer(field: str, vectorizer: TfidfVectorizer, scale: LogCountRatio | None = None) -> Pipeline:
        steps: list[tuple[str, Any]] = [("select", Select(field)), ("tfidf", vectorizer)]
        return Pipeline(steps if scale is None else [*steps, ("scale", scale)])

    features = FeatureUnion(
        [
            (
                "words",
                text_vectorizer(
                    "text",
                    TfidfVectorizer(
                        tokenizer=word_tokens,
                        token_pattern=None,
                        lowercase=False,
                        ngram_range=(1, 2),
                        min_df=2,
                        max_features=100_000,
                        sublinear_tf=True,
                        dtype=np.float32,
                    ),
                    LogCountRatio(),
                ),
            ),
            (
                "chars",
                text_vectorizer(
                    "text",
                    TfidfVectorizer(
                        analyzer="char_wb",
                        ngram_range=(2, 5),
                        min_df=3,
                        max_features=150_000,
                        sublinear_tf=True,
                        dtype=np.float32,
                    ),
                ),
            ),
            (
                "author",
                text_vectorizer(
                    "author", OptionalTfidf(token_pattern=r"(?u)\b\w+\b", binary=True, min_df=2, dtype=np.float32)
                ),
            ),
            ("meta", MetaFeatures()),
        ]
    )
    classifier = CalibratedClassifierCV(
        LogisticRegression(C=C, max_iter=5000, solver="liblinear"), method="sigmoid", cv=3, ensemble=False
    )
    return Pipeline([("prepare", Prepare()), ("features", features), ("classify", classifier)])


@dataclass(frozen=True, slots=True)
class Reason:
    """One feature that moved a score: positive ``weight`` pushes towards spam."""

    kind: str  # words, chars, author or meta
    feature: str
    weight: float

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "feature": self.feature, "weight": round(self.weight, 4)}


@dataclass(frozen=True, slots=True)
class Scored:
    score: float  # calibrated probability of spam
    reasons: tuple[Reason, ...]


class Model:
    """A loaded, verified model; safe to share between threads (read-only)."""

    def __init__(self, pipeline: Pipeline, metadata: dict[str, Any]) -> None:
        self.pipeline = pipeline
        self.metadata = metadata
        self.version: str = metadata["version"]
        self.threshold: float = float(metadata["threshold"])
        self.discard_threshold: float = float(metadata["discard_threshold"])
        self._linear = _Linear(pipeline)

    def score(self, records: list[Record], reasons: int = 0) -> list[Scored]:
        """Spam probability for each record, with the ``reasons`` strongest terms.

        Featurised by :class:`_Linear`, the fitted pipeline's arithmetic without
        scikit-learn's per-call checks: one comment with the fewest NumPy calls, a batch
        with the per-term arithmetic done once for all its comments.
        """
        rows, decisions = self._linear.features_and_decisions(records)
        probs = self._linear.probabilities(decisions)
        return [
            Scored(float(p), self._reasons(i, v, reasons) if reasons else ())
            for p, (i, v) in zip(probs, rows, strict=True)
        ]

    def _reasons(self, indices: np.ndarray, values: np.ndarray, top: int) -> tuple[Reason, ...]:
        # The calibrator is monotone, so the linear model's terms rank the reasons.
        terms = values * self._linear.coef[indices]
        result = []
        for j in np.argsort(-np.abs(terms))[:top]:
            if terms[j] == 0:
                continue
            kind, feature = self._linear.name(int(indices[j]))
            result.append(Reason(kind, feature, float(terms[j])))
        return tuple(result)


def _term_counts(vectorizer: TfidfVectorizer) -> Callable[[str], tuple[np.ndarray, np.ndarray]]:
    """A fitted vectorizer's term counts for one text: its analyzer, counted and looked up by C loops."""
    analyzer, vocabulary = vectorizer.build_analyzer(), vectorizer.vocabulary_

    def counts(text: str) -> tuple[np.ndarray, np.ndarray]:
        terms = Counter(analyzer(text))  # Counter and map loop in C: Python loops cost more than the rest
        cols = np.fromiter(map(vocabulary.get, terms, repeat(-1)), dtype=np.int64, count=len(terms))
        known = cols >= 0
        return cols[known], np.fromiter(terms.values(), dtype=np.float64, count=len(terms))[known]

    return counts


class _CharGrams:
    """A fitted ``char_wb`` vectorizer's term counts for one text, with numpy instead of a loop per n-gram.

    scikit-learn's analyzer builds every n-gram of every padded word as a Python
    string, counts them in a dict and looks each up in the vocabulary: for a
    200-character comment, about 900 strings and most of the time to score it.
    Here each character becomes its index in the vocabulary's alphabet (12 bits),
    an n-gram of up to 5 characters is the exact integer of its indices, and the
    vocabulary is a sorted array of those integers, so counting and lookup are a
    few array operations. The words are padded and joined as the analyzer pads
    them; an n-gram across two words holds two spaces in a row, and one holding a
    character outside the alphabet gets the index no term has, so neither can
    match a term and no other check is needed.
    """

    BITS = 12

    def __init__(self, vectorizer: TfidfVectorizer, points: np.ndarray, alphabet: np.ndarray) -> None:
        self.preprocess = vectorizer.build_preprocessor()
        self.min_n, self.max_n = vectorizer.ngram_range
        self.unknown = len(alphabet) + 1
        self.index = np.full(int(alphabet[-1]) + 2, self.unknown, dtype=np.uint64)  # code point -> index
        self.index[alphabet] = np.arange(1, len(alphabet) + 1)
        # Each term's code: its characters' indices, 12 bits each, the first character lowest.
        numbers = np.where(points > 0, self.index[points], 0)
        shifts = np.arange(self.max_n, dtype=np.uint64) * np.uint64(self.BITS)
        codes = np.bitwise_or.reduce(numbers << shifts, axis=1)
        order = np.argsort(codes)
        self.codes = codes[order]
        self.columns = np.fromiter(vectorizer.vocabulary_.values(), dtype=np.int64)[order]

    @classmethod
    def of(cls, vectorizer: TfidfVectorizer) -> _CharGrams | None:
        """Counts for ``vectorizer``, or None if its terms do not fit exact integer codes
        (not ``char_wb``, n-grams over 5 characters or a large alphabet)."""
        low, high = vectorizer.ngram_range
        # min_n <= 3: a padded word is never shorter than n, so the analyzer's rule for short words never applies.
        if vectorizer.analyzer != "char_wb" or low > 3 or high * cls.BITS > 64:
            return None
        terms = list(vectorizer.vocabulary_)
        # The code points of each term in a row, zero-padded (numpy's fixed-width strings), made in C.
        points = np.array(terms, dtype=f"<U{high}").view(np.uint32).reshape(len(terms), high)
        lengths = np.fromiter(map(len, terms), dtype=np.int64, count=len(terms))
        if ((points > 0).sum(axis=1) != lengths).any():  # a longer term, or one holding NUL
            return None
        alphabet = np.union1d(points[points > 0], [ord(" ")])
        if len(alphabet) + 2 >= (1 << cls.BITS):
            return None
        return cls(vectorizer, points, alphabet)

    def counts(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Vocabulary columns present in ``text`` and how often each occurs."""
        words = self.preprocess(text).split()
        if not words:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        padded = " " + "  ".join(words) + " "  # each word padded by one space, as the analyzer does
        points = np.frombuffer(padded.encode("utf-32-le"), dtype=np.uint32)
        chars = self.index[np.minimum(points, len(self.index) - 1)]
        # The code of the n-gram at i grows from the (n-1)-gram's by one character.
        code, grams = chars, []
        for n in range(1, min(self.max_n, len(chars)) + 1):
            if n > 1:
                code = code[: len(chars) - n + 1] | (chars[n - 1 :] << np.uint64(self.BITS * (n - 1)))
            if n >= self.min_n:
                grams.append(code)
        # Counted first: searching the vocabulary for fewer, sorted codes is faster.
        found, tf = np.unique(np.concatenate(grams) if grams else chars[:0], return_counts=True)
        at = np.minimum(np.searchsorted(self.codes, found), len(self.codes) - 1)
        known = self.codes[at] == found
        return self.columns[at[known]], tf[known].astype(np.float64)


def _weigh(
    vectorizer: TfidfVectorizer,
    idf: np.ndarray | None,
    scale: np.ndarray | None,
    cols: np.ndarray,
    tf: np.ndarray,
    row: np.ndarray | None = None,
    n: int = 1,
) -> np.ndarray:
    """The part's weights for counted terms: tf, idf and norm as the vectorizer's transform
    computes them, then the part's :class:`LogCountRatio` scale if it has one.

    ``row`` names the comment of each entry when several comments' terms come at once (``n`` comments).
    """
    if vectorizer.binary:
        tf = np.ones_like(tf)
    if vectorizer.sublinear_tf:
        tf = 1.0 + np.log(tf)
    if idf is not None:
        tf = tf * idf[cols]
    if vectorizer.norm == "l2":
        square = np.dot(tf, tf) if row is None else np.bincount(row, weights=tf * tf, minlength=n)[row]
        tf = tf / np.sqrt(square)
    elif vectorizer.norm == "l1":
        total = np.abs(tf).sum() if row is None else np.bincount(row, weights=np.abs(tf), minlength=n)[row]
        tf = tf / total
    if scale is not None:
        tf = tf * scale[cols]
    return tf


class _TextPart(NamedTuple):
    """One text part of the fitted union, as :class:`_Linear` weighs it."""

    field: str  # the Prepared attribute it reads
    counts: Callable[[str], tuple[np.ndarray, np.ndarray]]  # text -> (vocabulary columns, term counts)
    vectorizer: TfidfVectorizer
    offset: int  # its first column in the union
    idf: np.ndarray | None
    scale: np.ndarray | None  # LogCountRatio.scale_, for parts that have the step


class _Linear:
    """The fitted pipeline's arithmetic for one comment, without scikit-learn's per-call checks.

    Through the Pipeline, one comment costs about 4 ms, nearly all of it input
    validation in each transformer; the same sums here cost a tenth of that. It uses
    the fitted analyzers, vocabularies, idf weights, word scales, coefficients and calibrator, and
    tests/test_model.py checks that it agrees with ``pipeline.predict_proba``.
    """

    def __init__(self, pipeline: Pipeline) -> None:
        union, classify = pipeline.steps[1][1], pipeline.steps[-1][1]
        if len(pipeline.steps) != 3 or not isinstance(pipeline.steps[0][1], Prepare) or union.transformer_weights:
            raise ModelError("unexpected pipeline layout; retrain the model with this version")
        calibrated = classify.calibrated_classifiers_[0] if hasattr(classify, "calibrated_classifiers_") else None
        linear = calibrated.estimator if calibrated is not None else classify
        self.coef = np.asarray(linear.coef_, dtype=np.float64).ravel()
        self.intercept = float(np.ravel(linear.intercept_)[0])
        self.calibrator = calibrated.calibrators[0] if calibrated is not None else None
        self.text_parts: list[_TextPart] = []
        self.meta_offset = -1
        # Each part's (first column, name, column names); the names are the vocabulary's own
        # strings, not the union's "part__term" copies of all of them (megabytes per worker).
        self.names: list[tuple[int, str, np.ndarray]] = []
        offset = 0
        for name, part in union.transformer_list:
            names = part.get_feature_names_out()
            width = len(names)
            self.names.append((offset, name, names))
            if isinstance(part, MetaFeatures):
                self.meta_offset = offset
            elif width:
                select, vectorizer = part.named_steps["select"], part.named_steps["tfidf"]
                step = part.named_steps.get("scale")  # absent in models trained before it existed
                scale = step.scale_ if isinstance(step, LogCountRatio) else None
                grams = _CharGrams.of(vectorizer)
                counts = grams.counts if grams is not None else _term_counts(vectorizer)
                # Kept here: the vectorizer's idf_ is a property that rebuilds the array on each use.
                idf = np.asarray(vectorizer.idf_, dtype=np.float64) if vectorizer.use_idf else None
                self.text_parts.append(_TextPart(select.field, counts, vectorizer, offset, idf, scale))
            offset += width
        if offset != len(self.coef):
            raise ModelError(f"the model has {len(self.coef)} coefficients for {offset} features; retrain it")

    def features_and_decisions(self, records: list[Record]) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
        """Each record's feature row (column indices and values, what the pipeline's union
        computes) and its linear decision value."""
        prepared = [prepare(r) for r in records]  # what Prepare.transform does, without its output wrapper
        if not prepared:
            return [], np.zeros(0)
        if len(prepared) == 1:
            cols, values = self._row(prepared[0])
            return [(cols, values)], np.array([np.dot(values, self.coef[cols]) + self.intercept])
        return self._rows(prepared)

    def _row(self, prepared: Prepared) -> tuple[np.ndarray, np.ndarray]:
        """One comment's row: the fewest NumPy calls, for the single check on every comment post."""
        indices: list[np.ndarray] = []
        values: list[np.ndarray] = []
        for field, counts, vectorizer, offset, idf, scale in self.text_parts:
            cols, tf = counts(getattr(prepared, field))
            if len(cols):
                indices.append(cols + offset)
                values.append(_weigh(vectorizer, idf, scale, cols, tf))
        if self.meta_offset >= 0:
            meta = np.fromiter(meta_row(prepared).values(), dtype=np.float64, count=len(META_NAMES))
            nonzero = np.flatnonzero(meta)
            indices.append(nonzero + self.meta_offset)
            values.append(meta[nonzero])
        if not indices:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        return np.concatenate(indices), np.concatenate(values)

    def _rows(self, prepared: list[Prepared]) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
        """A batch's rows and decisions. The per-term arithmetic (tf-idf, norms, the dot product)
        runs once over all comments' terms: per comment it would be a dozen small NumPy calls,
        as much as counting the terms of a short comment. Same rows as :meth:`_row`, in the same order."""
        n = len(prepared)
        rows: list[np.ndarray] = []  # the comment each entry belongs to
        indices: list[np.ndarray] = []
        values: list[np.ndarray] = []
        for field, counts, vectorizer, offset, idf, scale in self.text_parts:
            counted = [counts(getattr(p, field)) for p in prepared]
            lengths = np.fromiter((len(c) for c, _ in counted), dtype=np.int64, count=n)
            if not lengths.any():
                continue
            row = np.repeat(np.arange(n), lengths)
            cols = np.concatenate([c for c, _ in counted])
            rows.append(row)
            indices.append(cols + offset)
            tf = np.concatenate([t for _, t in counted])
            values.append(_weigh(vectorizer, idf, scale, cols, tf, row, n))
        if self.meta_offset >= 0:
            meta = np.array([list(meta_row(p).values()) for p in prepared], dtype=np.float64).reshape(
                n, len(META_NAMES)
            )
            row, col = np.nonzero(meta)  # row-major: each comment's columns in order
            rows.append(row)
            indices.append(col + self.meta_offset)
            values.append(meta[row, col])
        if not rows:
            return [(np.zeros(0, dtype=np.int64), np.zeros(0))] * n, np.full(n, self.intercept)
        row = np.concatenate(rows)
        order = np.argsort(row, kind="stable")  # grouped by comment, the parts in the union's order
        row, cols, vals = row[order], np.concatenate(indices)[order], np.concatenate(values)[order]
        decisions = np.bincount(row, weights=vals * self.coef[cols], minlength=n) + self.intercept
        ends = np.cumsum(np.bincount(row, minlength=n)).tolist()
        return [(cols[a:b], vals[a:b]) for a, b in zip([0, *ends[:-1]], ends, strict=True)], decisions

    def name(self, column: int) -> tuple[str, str]:
        """(part, feature) of a column, as in the union's ``part__feature`` names."""
        for offset, part, names in reversed(self.names):
            if column >= offset:
                return part, str(names[column - offset])
        raise IndexError(column)

    def probabilities(self, decisions: np.ndarray) -> np.ndarray:
        d = np.asarray(decisions, dtype=np.float64)
        if self.calibrator is not None:  # sigmoid calibration, as _SigmoidCalibration.predict computes it
            d = -(self.calibrator.a_ * d + self.calibrator.b_)
        return expit(d)


def metadata_path(model_path: Path) -> Path:
    return model_path.with_suffix(".json")


def _atomic_write(path: Path, data: bytes) -> None:
    """Write via a temporary file, fsync and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _plain_vocabularies(pipeline: Pipeline) -> None:
    """Store each vocabulary's columns as Python ints, not the numpy ints fitting leaves.

    joblib unpickles in pure Python, and a numpy int costs a call into numpy each: with
    80k terms, that was two thirds of the time to load a model. Nothing else changes.
    """
    for _name, part in pipeline.steps[1][1].transformer_list:
        vectorizer = part.named_steps["tfidf"] if isinstance(part, Pipeline) else part
        vocabulary = getattr(vectorizer, "vocabulary_", None)
        if vocabulary:
            vectorizer.vocabulary_ = {term: int(column) for term, column in vocabulary.items()}


def serialize(pipeline: Pipeline, metadata: dict[str, Any]) -> tuple[bytes, dict[str, Any]]:
    """The model's bytes, and its metadata completed with checksum, library version and feature set."""
    _plain_vocabularies(pipeline)
    buffer = io.BytesIO()
    joblib.dump(pipeline, buffer, compress=3)
    data = buffer.getvalue()
    return data, {
        **metadata,
        "format": FORMAT,
        "sha256": hashlib.sha256(data).hexdigest(),
        "sklearn_version": sklearn.__version__,
        "meta_features": list(META_NAMES),
    }


def save(pipeline: Pipeline, metadata: dict[str, Any], model_path: Path) -> dict[str, Any]:
    """Write the model file, then its metadata last (a reader checks one against the other)."""
    data, metadata = serialize(pipeline, {**metadata, "file": model_path.name})
    _atomic_write(model_path, data)
    _atomic_write(metadata_path(model_path), json.dumps(metadata, indent=2, sort_keys=True).encode() + b"\n")
    return metadata


def from_bytes(data: bytes, metadata: dict[str, Any], name: str) -> Model:
    """Verify ``data`` against ``metadata`` and unpickle it; :class:`ModelError` says what is wrong."""
    missing = {"format", "version", "sha256", "sklearn_version", "threshold", "discard_threshold"} - metadata.keys()
    if missing:
        raise ModelError(f"metadata of model {name} lacks {', '.join(sorted(missing))}")
    if metadata["format"] != FORMAT:
        raise ModelError(f"model {name} has format {metadata['format']}, this server reads format {FORMAT}")
    if metadata["sklearn_version"] != sklearn.__version__:
        raise ModelError(
            f"model {name} was made with scikit-learn {metadata['sklearn_version']}, "
            f"this server has {sklearn.__version__}; retrain it or install the matching version"
        )
    if metadata.get("meta_features") != list(META_NAMES):
        raise ModelError(f"model {name} was trained on other metadata features than this code computes; retrain it")
    actual = hashlib.sha256(data).hexdigest()
    if actual != metadata["sha256"]:
        raise ModelError(
            f"model {name} has sha256 {actual}, its metadata says {metadata['sha256']}: "
            "the file was altered or belongs to other metadata"
        )
    try:
        pipeline = joblib.load(io.BytesIO(data))
    except Exception as exc:  # a verified file that still fails to unpickle
        raise ModelError(f"model {name} could not be loaded: {exc}") from exc
    return Model(pipeline, metadata)


def load(model_path: Path) -> Model:
    """Load and verify a model file and the metadata beside it."""
    meta_path = metadata_path(model_path)
    if not model_path.is_file():
        raise ModelError(f"model file {model_path} does not exist (train one with `python train.py`)")
    try:
        metadata = json.loads(meta_path.read_text())
    except FileNotFoundError:
        raise ModelError(f"model metadata {meta_path} is missing; refusing to load an unverified model") from None
    except json.JSONDecodeError as exc:
        raise ModelError(f"model metadata {meta_path} is not valid JSON: {exc}") from None
    return from_bytes(model_path.read_bytes(), metadata, str(model_path))
