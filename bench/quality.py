"""spamfilter against its peers, trained and tested on exactly the same splits.

    python bench/quality.py [--only youtube_uci,loco:youtube_uci] [--peers nb,bogofilter,spamprobe,crm114]

Peers: a textbook CountVectorizer + MultinomialNB, and the classic statistical mail
filters from Debian (bogofilter, spamprobe, CRM114), each comment wrapped as a
minimal mail message (bench/peers.py). A peer that is not installed is reported
and skipped. The splits are those of ``python -m spamfilter.evaluate``.

Prints one table (system x evaluation x metric), then the speed figures the issue
asks for: median time to score one comment in-process and the time to train on
all corpora. Writes bench/out/quality.json and bench/out/quality.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import peers as peer_module  # noqa: E402
from spamfilter import evaluate, training  # noqa: E402
from spamfilter.config import DEFAULT_MODEL_PATH  # noqa: E402
from spamfilter.corpora import Dataset, load_all  # noqa: E402
from spamfilter.features import Record  # noqa: E402
from spamfilter.model import load  # noqa: E402
from spamfilter.text import forget_cached  # noqa: E402

METRICS = ("roc_auc", "caught_at_0.1pct", "caught_at_1pct", "mcc", "accuracy")
PEERS = {
    "nb": peer_module.NaiveBayesPeer,
    "bogofilter": peer_module.BogofilterPeer,
    "spamprobe": peer_module.SpamprobePeer,
    "crm114": peer_module.Crm114Peer,
}


class PeerSystem:
    """A text-only peer behind the evaluation's System interface (it sees the comment text)."""

    def __init__(self, peer: peer_module.Peer) -> None:
        self.peer = peer
        self.name = peer.name
        self.threshold = float(getattr(peer, "threshold", 0.5))

    def fit(self, ds: Dataset) -> None:
        self.peer.fit([r.get("content") or "" for r in ds.records], list(ds.labels))

    def score(self, records: Sequence[Record]) -> np.ndarray:
        return self.peer.score([r.get("content") or "" for r in records])


def scoring_speed(ds: Dataset, n: int = 2000) -> dict[str, float]:
    """Median and p99 time to score one comment with the shipped model, each text seen for the first time."""
    model = load(DEFAULT_MODEL_PATH)
    rng = np.random.default_rng(0)
    records = [ds.records[i] for i in rng.choice(len(ds), size=min(n, len(ds)), replace=False)]
    model.score(records[:50])  # warm up imports and caches of the code, not of these texts
    forget_cached()
    times = []
    for record in records:
        started = time.perf_counter()
        model.score([record], reasons=5)
        times.append(time.perf_counter() - started)
    times.sort()
    return {
        "comments": len(times),
        "median_ms": round(statistics.median(times) * 1000, 3),
        "p99_ms": round(times[int(len(times) * 0.99)] * 1000, 3),
    }


def training_time(ds: Dataset) -> float:
    started = time.monotonic()
    training.fit(ds)
    return round(time.monotonic() - started, 1)


def table(results: dict[str, dict[str, dict[str, float]]], own_name: str) -> str:
    """Markdown: one row per (evaluation, system); the best value of each metric in bold."""
    header = "| evaluation | system | " + " | ".join(METRICS) + " |"
    lines = [header, "|---|---|" + "---|" * len(METRICS)]
    for evaluation, systems in results.items():
        best = {m: max(f[m] for f in systems.values()) for m in METRICS}
        for system, figures in systems.items():
            cells = [f"**{figures[m]:.4f}**" if figures[m] == best[m] else f"{figures[m]:.4f}" for m in METRICS]
            name = f"**{system}**" if system == own_name else system
            lines.append(f"| {evaluation} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ahead_of_peers(results: dict[str, dict[str, dict[str, float]]], own_name: str) -> list[str]:
    """Where spamfilter is not ahead of every peer on AUC and on spam caught at <=0.1% ham blocked."""
    misses = []
    for evaluation, systems in results.items():
        own = systems[own_name]
        for system, figures in systems.items():
            for metric in ("roc_auc", "caught_at_0.1pct"):
                if system != own_name and figures[metric] >= own[metric]:
                    misses.append(f"{evaluation}: {system} {metric} {figures[metric]:.4f} >= {own[metric]:.4f}")
    return misses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="comma-separated evaluation names (default: all)")
    parser.add_argument("--peers", default=",".join(PEERS), help=f"comma-separated, from {', '.join(PEERS)}")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    args = parser.parse_args(argv)

    ds, infos = load_all()
    threshold = evaluate.shipped_threshold()
    print(f"{len(ds)} comments from {', '.join(i.name for i in infos)}; spamfilter threshold {threshold:.4f}")
    own = evaluate.Spamfilter()
    systems: list[Any] = [own]
    for name in [p for p in args.peers.split(",") if p]:
        peer = PEERS[name]()
        reason = peer.missing()
        if reason:
            print(f"peer {name} skipped: {reason}")
            continue
        systems.append(PeerSystem(peer))

    results: dict[str, dict[str, dict[str, float]]] = {}
    started = time.monotonic()
    try:
        for evaluation in evaluate.evaluations(ds, [o for o in args.only.split(",") if o]):
            y = ds.y[evaluation.test_rows]
            results[evaluation.name] = {}
            for system in systems:
                scores = evaluate.run(system, ds, evaluation, log=lambda _line: None)
                # Accuracy and MCC at each system's own cut: ours is the shipped threshold, each peer's its
                # tool's own (bogofilter calls spam only from 0.99, for instance).
                cut = threshold if system is own else system.threshold
                figures = evaluate.point_figures(y, scores, cut)
                results[evaluation.name][system.name] = {k: round(v, 4) for k, v in figures.items()}
                print(f"{evaluation.name:<28} {system.name:<32} " + " ".join(f"{figures[m]:.4f}" for m in METRICS))
    finally:
        for system in systems:
            if isinstance(system, PeerSystem):
                system.peer.close()

    speed = scoring_speed(ds)
    fit_seconds = training_time(ds)
    misses = ahead_of_peers(results, own.name)
    markdown = table(results, own.name)
    print()
    print(markdown)
    print()
    print(f"scoring one comment in-process: median {speed['median_ms']} ms, p99 {speed['p99_ms']} ms (target 0.5 ms)")
    print(f"training on all {len(ds)} comments: {fit_seconds} s (target 60 s)")
    print("ahead of every peer on AUC and caught@0.1%:", "yes" if not misses else "no")
    for miss in misses:
        print("  not ahead:", miss)
    args.out.mkdir(parents=True, exist_ok=True)
    report = {
        "results": results,
        "scoring": speed,
        "training_seconds": fit_seconds,
        "not_ahead": misses,
        "seconds": round(time.monotonic() - started, 1),
    }
    (args.out / "quality.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "quality.md").write_text(markdown + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
