"""Training, grouped cross-validation, thresholds and the figures a model ships with.

Spam filters are judged by false positives first, so the spam threshold is the
lowest score that blocks at most :data:`TARGET_HAM_BLOCKED` of legitimate comments
in out-of-fold predictions, and the ``discard`` threshold the lowest that blocks
at most :data:`DISCARD_HAM_BLOCKED`.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from sklearn.metrics import matthews_corrcoef, roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import Pipeline

from .corpora import Dataset
from .model import build_pipeline

TARGET_HAM_BLOCKED = 0.005
DISCARD_HAM_BLOCKED = 0.0005


def fit(ds: Dataset) -> Pipeline:
    pipeline = build_pipeline()
    pipeline.fit(ds.records, ds.y, classify__sample_weight=np.asarray(ds.weights))
    return pipeline


def out_of_fold_scores(ds: Dataset, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Spam scores for every row from a model that never saw it nor its near-duplicates."""
    scores = np.zeros(len(ds))
    # Stratify by corpus and label together so every fold sees every corpus.
    strata = [f"{c}:{y}" for c, y in zip(ds.corpus, ds.labels, strict=True)]
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train_idx, test_idx in splitter.split(ds.records, strata, ds.groups):
        model = fit(ds.subset(train_idx))
        scores[test_idx] = model.predict_proba([ds.records[i] for i in test_idx])[:, 1]
    return scores


def threshold_for(y: np.ndarray, scores: np.ndarray, ham_blocked: float) -> float:
    """Lowest threshold (score >= t is spam) that blocks at most ``ham_blocked`` of ham."""
    ham = np.sort(scores[y == 0])[::-1]
    allowed = math.floor(ham_blocked * len(ham))
    # Strictly above the (allowed+1)-th highest ham score.
    return float(np.nextafter(ham[allowed], 1.0)) if allowed < len(ham) else 0.0


def spam_caught_at(y: np.ndarray, scores: np.ndarray, ham_blocked: float) -> float:
    t = threshold_for(y, scores, ham_blocked)
    return float(np.mean(scores[y == 1] >= t))


def figures(y: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, Any]:
    """The figures reported for one evaluation: AUC, operating points, MCC, accuracy."""
    pred = scores >= threshold
    spam, ham = y == 1, y == 0
    out: dict[str, Any] = {
        "rows": len(y),
        "spam": int(spam.sum()),
        "ham": int(ham.sum()),
        "accuracy": float(np.mean(pred == spam)),
        "spam_caught": float(pred[spam].mean()) if spam.any() else None,
        "ham_blocked": float(pred[ham].mean()) if ham.any() else None,
    }
    if spam.any() and ham.any():
        out["roc_auc"] = float(roc_auc_score(y, scores))
        out["mcc"] = float(matthews_corrcoef(y, pred))
        out["spam_caught_at_0.1pct_ham_blocked"] = spam_caught_at(y, scores, 0.001)
        out["spam_caught_at_1pct_ham_blocked"] = spam_caught_at(y, scores, 0.01)
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}


def evaluate(ds: Dataset, folds: int = 5) -> tuple[dict[str, Any], float, float]:
    """Cross-validate: per-corpus figures at the chosen thresholds, and the thresholds."""
    started = time.monotonic()
    scores = out_of_fold_scores(ds, folds)
    y = ds.y
    threshold = threshold_for(y, scores, TARGET_HAM_BLOCKED)
    discard = max(threshold, threshold_for(y, scores, DISCARD_HAM_BLOCKED))
    corpus = np.asarray(ds.corpus)
    report: dict[str, Any] = {
        "method": f"{folds}-fold cross-validation, near-duplicates kept in one fold (StratifiedGroupKFold)",
        "all": figures(y, scores, threshold),
        "per_corpus": {c: figures(y[corpus == c], scores[corpus == c], threshold) for c in sorted(set(ds.corpus))},
        "seconds": round(time.monotonic() - started, 1),
    }
    return report, threshold, discard
