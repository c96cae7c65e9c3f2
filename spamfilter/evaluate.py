"""Measure a model the way users meet it: on comments, and on whole sites, it never trained on.

    python -m spamfilter.evaluate [--out DIR] [--only youtube_uci,loco:sms_spam_collection]

Two kinds of evaluation, each over splits that do not leak:

* **within** a corpus: the model trains on part of one corpus and is tested on the
  rest, the way published results on these corpora are measured. YouTube is split
  by video (leave-one-video-out), Instagram by account, the seed corpus by site and
  SMS (which has no sources) into 10 folds; rows that are near-duplicates of a test
  row are removed from training, wherever they come from.
* **leave-one-corpus-out** (``loco:NAME``): train on every other corpus, test on
  this one: a site the model has never seen, which is what a new install meets.

Each figure comes with a 95% bootstrap interval over the test comments. Accuracy
and MCC are taken at the shipped model's threshold (its scores are calibrated, so
the same cut means the same thing for any model trained this way).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from sklearn.metrics import confusion_matrix, matthews_corrcoef, precision_recall_curve, roc_auc_score, roc_curve
from sklearn.model_selection import LeaveOneGroupOut, StratifiedGroupKFold

from . import training
from .config import DEFAULT_MODEL_PATH
from .corpora import DEFAULT_CORPORA, SEED_DIR, SEED_NAME, Dataset, load_all
from .features import Record
from .model import metadata_path

# How each corpus is split for the within-corpus evaluation: by source (video,
# account, site) where the corpus has them, else into folds of near-duplicate groups.
SPLIT_BY_SOURCE = {"youtube_uci": None, "instagram_scamspot": 5, SEED_NAME: 5}  # None: one fold per source
PLAIN_FOLDS = 10
BOOTSTRAP = 1000


class System(Protocol):
    """Anything that can be trained and asked for spam scores (higher = spammier)."""

    name: str

    def fit(self, ds: Dataset) -> None: ...

    def score(self, records: Sequence[Record]) -> np.ndarray: ...


class Spamfilter:
    """This project's pipeline, trained exactly as ``train.py`` trains it."""

    name = "spamfilter"

    def __init__(self) -> None:
        self.pipeline: Any = None

    def fit(self, ds: Dataset) -> None:
        self.pipeline = training.fit(ds)

    def score(self, records: Sequence[Record]) -> np.ndarray:
        return self.pipeline.predict_proba(list(records))[:, 1]


@dataclass(frozen=True)
class Evaluation:
    name: str  # the corpus, or loco:<corpus>
    corpus: str
    method: str
    folds: tuple[tuple[np.ndarray, np.ndarray], ...]  # (train rows, test rows) into the full dataset

    @property
    def test_rows(self) -> np.ndarray:
        return np.concatenate([test for _, test in self.folds])


def _purge(ds: Dataset, train: np.ndarray, test: np.ndarray) -> np.ndarray:
    """Training rows minus any near-duplicate of a test row (copy-pasted spam crosses sources)."""
    groups = np.asarray(ds.groups)
    return train[~np.isin(groups[train], np.unique(groups[test]))]


def _within(ds: Dataset, corpus: str, seed: int) -> Evaluation:
    rows = np.flatnonzero(np.asarray(ds.corpus) == corpus)
    y = ds.y[rows]
    sources = np.asarray(ds.sources)[rows]
    folds: list[tuple[np.ndarray, np.ndarray]] = []
    if corpus in SPLIT_BY_SOURCE and len(set(sources)) > 1:
        n = SPLIT_BY_SOURCE[corpus]
        splits: Iterator[tuple[np.ndarray, np.ndarray]]
        if n is None:
            splits, method = LeaveOneGroupOut().split(rows, y, sources), "leave-one-source-out"
        else:
            splitter = StratifiedGroupKFold(n_splits=n, shuffle=True, random_state=seed)
            splits, method = splitter.split(rows, y, sources), f"{n}-fold by source (account/site)"
    else:
        n = max(2, min(PLAIN_FOLDS, int(np.bincount(y).min())))  # each fold needs both classes
        groups = np.asarray(ds.groups)[rows]
        splits = StratifiedGroupKFold(n_splits=n, shuffle=True, random_state=seed).split(rows, y, groups)
        method = f"{n}-fold, near-duplicates in one fold"
    for train, test in splits:
        folds.append((_purge(ds, rows[train], rows[test]), rows[test]))
    return Evaluation(corpus, corpus, method + ", near-duplicates of test rows removed from training", tuple(folds))


def _leave_corpus_out(ds: Dataset, corpus: str) -> Evaluation:
    is_test = np.asarray(ds.corpus) == corpus
    test = np.flatnonzero(is_test)
    train = _purge(ds, np.flatnonzero(~is_test), test)
    return Evaluation(f"loco:{corpus}", corpus, "train on every other corpus", ((train, test),))


def evaluations(ds: Dataset, only: Sequence[str] = (), seed: int = 0) -> list[Evaluation]:
    """Within-corpus evaluations, then leave-one-corpus-out, for every corpus in ``ds``."""
    corpora = sorted(set(ds.corpus))
    names = [*corpora, *(f"loco:{c}" for c in corpora)]
    unknown = set(only) - set(names)
    if unknown:
        raise ValueError(f"unknown evaluation(s) {', '.join(sorted(unknown))}; choose from {', '.join(names)}")
    out = []
    for name in names:
        if only and name not in only:
            continue
        corpus = name.removeprefix("loco:")
        out.append(_leave_corpus_out(ds, corpus) if name.startswith("loco:") else _within(ds, corpus, seed))
    return out


def run(system: System, ds: Dataset, evaluation: Evaluation, log: Callable[[str], None] = print) -> np.ndarray:
    """Out-of-fold scores for the evaluation's test rows (in ``test_rows`` order)."""
    scores = []
    for i, (train, test) in enumerate(evaluation.folds, 1):
        started = time.monotonic()
        system.fit(ds.subset(train))
        scores.append(np.asarray(system.score([ds.records[j] for j in test]), dtype=float))
        log(f"  {system.name} {evaluation.name} fold {i}/{len(evaluation.folds)}: {time.monotonic() - started:.1f}s")
    return np.concatenate(scores)


def point_figures(y: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    pred = scores >= threshold
    return {
        "roc_auc": float(roc_auc_score(y, scores)),
        "caught_at_0.1pct": training.spam_caught_at(y, scores, 0.001),
        "caught_at_1pct": training.spam_caught_at(y, scores, 0.01),
        "mcc": float(matthews_corrcoef(y, pred)),
        "accuracy": float(np.mean(pred == (y == 1))),
        "spam_caught": float(pred[y == 1].mean()),
        "ham_blocked": float(pred[y == 0].mean()),
    }


def with_intervals(
    y: np.ndarray, scores: np.ndarray, threshold: float, resamples: int = BOOTSTRAP, seed: int = 0
) -> dict[str, dict[str, float]]:
    """Each figure with a 95% percentile-bootstrap interval (test rows resampled within each class)."""
    point = point_figures(y, scores, threshold)
    rng = np.random.default_rng(seed)
    spam, ham = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    samples: dict[str, list[float]] = {k: [] for k in point}
    for _ in range(resamples):
        idx = np.concatenate([rng.choice(spam, len(spam)), rng.choice(ham, len(ham))])
        for k, v in point_figures(y[idx], scores[idx], threshold).items():
            samples[k].append(v)
    return {
        k: {"value": round(v, 4), "low": round(float(np.percentile(samples[k], 2.5)), 4),
            "high": round(float(np.percentile(samples[k], 97.5)), 4)}
        for k, v in point.items()
    }  # fmt: skip


def shipped_threshold(model_path: Path = DEFAULT_MODEL_PATH) -> float:
    return float(json.loads(metadata_path(model_path).read_text())["threshold"])


# --- the report -----------------------------------------------------------------------------------

METRICS = (
    ("roc_auc", "ROC AUC"),
    ("caught_at_0.1pct", "spam caught @ ≤0.1% ham blocked"),
    ("caught_at_1pct", "spam caught @ ≤1% ham blocked"),
    ("mcc", "MCC @ threshold"),
    ("accuracy", "accuracy @ threshold"),
)


def _cell(f: dict[str, float]) -> str:
    return f"{f['value']:.4f} [{f['low']:.3f}, {f['high']:.3f}]"


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "# spamfilter quality report",
        "",
        f"Threshold {results['threshold']:.4f} (the shipped model's). Figures are out-of-fold on comments the "
        "model never trained on; 95% bootstrap intervals in brackets [low, high].",
        "",
        "| evaluation | method | test rows (spam) | " + " | ".join(label for _, label in METRICS) + " |",
        "|---|---|---|" + "---|" * len(METRICS),
    ]
    for name, r in results["evaluations"].items():
        cells = " | ".join(_cell(r["figures"][k]) for k, _ in METRICS)
        lines.append(f"| {name} | {r['method']} | {r['rows']} ({r['spam']}) | {cells} |")
    lines += ["", "## Confusion matrices at the threshold", ""]
    lines += ["| evaluation | ham passed | ham blocked | spam passed | spam caught |", "|---|---|---|---|---|"]
    for name, r in results["evaluations"].items():
        (tn, fp), (fn, tp) = r["confusion"]
        lines.append(f"| {name} | {tn} | {fp} | {fn} | {tp} |")
    if results.get("plot"):
        lines += ["", f"![ROC and precision-recall curves]({results['plot']})"]
    lines += ["", f"Took {results['seconds']:.0f} s; reproduce with `{results['command']}`.", ""]
    return "\n".join(lines)


def plot(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path) -> bool:
    """ROC and precision-recall curves per evaluation; False when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (roc_ax, pr_ax) = plt.subplots(1, 2, figsize=(12, 5))
    for name, (y, s) in curves.items():
        fpr, tpr, _ = roc_curve(y, s)
        roc_ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y, s):.3f})")
        precision, recall, _ = precision_recall_curve(y, s)
        pr_ax.plot(recall, precision, label=name)
    roc_ax.set(xscale="log", xlim=(1e-3, 1), xlabel="ham blocked (log)", ylabel="spam caught", title="ROC")
    pr_ax.set(xlabel="recall (spam caught)", ylabel="precision", title="precision-recall")
    roc_ax.legend(fontsize=8)
    pr_ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    parser.add_argument("--seed-corpus", type=Path, default=SEED_DIR)
    parser.add_argument("--out", type=Path, default=Path("bench/out/quality"), help="report folder")
    parser.add_argument("--only", default="", help="comma-separated evaluation names (default: all)")
    parser.add_argument("--threshold", type=float, help="default: the shipped model's")
    args = parser.parse_args(argv)

    started = time.monotonic()
    ds, infos = load_all(args.corpora, args.seed_corpus)
    threshold = args.threshold if args.threshold is not None else shipped_threshold()
    print(f"{len(ds)} comments from {', '.join(i.name for i in infos)}; threshold {threshold:.4f}")
    results: dict[str, Any] = {"threshold": threshold, "evaluations": {}}
    curves = {}
    for evaluation in evaluations(ds, [o for o in args.only.split(",") if o]):
        scores = run(Spamfilter(), ds, evaluation)
        y = ds.y[evaluation.test_rows]
        curves[evaluation.name] = (y, scores)
        figures = with_intervals(y, scores, threshold)
        results["evaluations"][evaluation.name] = {
            "method": evaluation.method,
            "rows": len(y),
            "spam": int(y.sum()),
            "figures": figures,
            "confusion": confusion_matrix(y, scores >= threshold, labels=[0, 1]).tolist(),
        }
        print(evaluation.name, {k: f["value"] for k, f in figures.items()}, flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    if plot(curves, args.out / "curves.png"):
        results["plot"] = "curves.png"
    results["seconds"] = time.monotonic() - started
    results["command"] = "python -m spamfilter.evaluate" + (f" --only {args.only}" if args.only else "")
    (args.out / "report.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "report.md").write_text(markdown(results))
    print(f"wrote {args.out / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
