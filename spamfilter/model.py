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
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from .errors import ModelError
from .features import META_NAMES, MetaFeatures, OptionalTfidf, Prepare, Record, Select, meta_row, prepare
from .text import word_tokens

FORMAT = 1


def build_pipeline(C: float = 8.0) -> Pipeline:
    """The untrained pipeline: records -> cleaned text -> n-grams + metadata -> calibrated LR."""

    def text_vectorizer(field: str, vectorizer: TfidfVectorizer) -> Pipeline:
        return Pipeline([("select", Select(field)), ("tfidf", vectorizer)])

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
        self._features = pipeline[:-1]
        self._names = np.asarray(pipeline[-2].get_feature_names_out(), dtype=object)
        self._linear = _Linear(pipeline)

    def score(self, records: list[Record], reasons: int = 0) -> list[Scored]:
        """Spam probability for each record, with the ``reasons`` strongest terms.

        A few records are featurised one by one (:class:`_Linear`); scikit-learn's
        transformers check their input on every call, which is most of the time for
        one comment but pays off for a batch.
        """
        if len(records) <= FEATURISE_ONE_BY_ONE:
            rows = [self._linear.features(r) for r in records]
        else:
            X = self._features.transform(records).tocsr()
            rows = [(X.indices[a:b], X.data[a:b]) for a, b in zip(X.indptr[:-1], X.indptr[1:], strict=True)]
        probs = self._linear.probabilities([self._linear.decision(i, v) for i, v in rows])
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
            kind, _, feature = str(self._names[indices[j]]).partition("__")
            result.append(Reason(kind, feature, float(terms[j])))
        return tuple(result)


# Up to this many records are featurised one by one; more go through the pipeline at once.
FEATURISE_ONE_BY_ONE = 16


class _Linear:
    """The fitted pipeline's arithmetic for one comment, without scikit-learn's per-call checks.

    Through the Pipeline, one comment costs about 4 ms, nearly all of it input
    validation in each transformer; the same sums here cost a tenth of that. It uses
    the fitted analyzers, vocabularies, idf weights, coefficients and calibrator, and
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
        self.text_parts: list[tuple[str, Any, TfidfVectorizer, int]] = []
        self.meta_offset = -1
        offset = 0
        for _name, part in union.transformer_list:
            width = len(part.get_feature_names_out())
            if isinstance(part, MetaFeatures):
                self.meta_offset = offset
            elif width:
                select, vectorizer = part.steps[0][1], part.steps[-1][1]
                self.text_parts.append((select.field, vectorizer.build_analyzer(), vectorizer, offset))
            offset += width
        if offset != len(self.coef):
            raise ModelError(f"the model has {len(self.coef)} coefficients for {offset} features; retrain it")

    def features(self, record: Record) -> tuple[np.ndarray, np.ndarray]:
        """Column indices and values of the record's feature row (what the pipeline's union computes)."""
        prepared = prepare(record)  # what Prepare.transform does, without its output wrapper
        indices: list[np.ndarray] = []
        values: list[np.ndarray] = []
        for field, analyzer, vectorizer, offset in self.text_parts:
            # Counted and looked up by C loops (Counter, map): Python loops here cost more than the rest.
            terms = Counter(analyzer(getattr(prepared, field)))
            cols = np.fromiter(map(vectorizer.vocabulary_.get, terms, repeat(-1)), dtype=np.int64, count=len(terms))
            known = cols >= 0
            if not known.any():
                continue
            cols = cols[known]
            tf = np.fromiter(terms.values(), dtype=np.float64, count=len(terms))[known]
            if vectorizer.binary:
                tf[:] = 1.0
            if vectorizer.sublinear_tf:
                tf = 1.0 + np.log(tf)
            if vectorizer.use_idf:
                tf *= vectorizer.idf_[cols]
            if vectorizer.norm == "l2":
                tf /= np.sqrt(np.dot(tf, tf))
            elif vectorizer.norm == "l1":
                tf /= np.abs(tf).sum()
            indices.append(cols + offset)
            values.append(tf)
        if self.meta_offset >= 0:
            meta = np.fromiter(meta_row(prepared).values(), dtype=np.float64, count=len(META_NAMES))
            nonzero = np.flatnonzero(meta)
            indices.append(nonzero + self.meta_offset)
            values.append(meta[nonzero])
        if not indices:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        return np.concatenate(indices), np.concatenate(values)

    def decision(self, indices: np.ndarray, values: np.ndarray) -> float:
        return float(np.dot(values, self.coef[indices])) + self.intercept

    def probabilities(self, decisions: list[float]) -> np.ndarray:
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


def serialize(pipeline: Pipeline, metadata: dict[str, Any]) -> tuple[bytes, dict[str, Any]]:
    """The model's bytes, and its metadata completed with checksum, library version and feature set."""
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
