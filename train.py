"""Train models: the shipped default, or a retrained version from moderator labels.

    python train.py                     # retrain from the corpora + stored labels; promote if no worse
    python train.py --force             # promote even if the gate says worse (logged in the metadata)
    python train.py --list              # numbered versions, the current one starred
    python train.py --rollback [N]      # serve version N again (default: the current one's parent)
    python train.py --ship              # rebuild models/default.joblib from the corpora (no database)

The database and model settings are the server's (``SPAMFILTER_*``, ``DATABASE_URL``),
so running servers pick a promoted version up within seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from spamfilter import model, registry, retraining, training
from spamfilter.config import DEFAULT_MODEL_PATH
from spamfilter.corpora import DEFAULT_CORPORA, SEED_DIR, assign_near_duplicate_groups, load_all
from spamfilter.db import ModelCurrent, ModelVersion


def ship(args: argparse.Namespace) -> int:
    """Train the default model file on the corpora, outside the fixed evaluation slice."""
    ds, infos = load_all(args.corpora, None if args.no_seed else args.seed)
    train, holdout = ds.split(retraining.CORPORA_HOLDOUT_PERCENT)
    assign_near_duplicate_groups(train)
    print(f"loaded {len(ds)} comments ({sum(ds.labels)} spam) from {', '.join(i.name for i in infos)}")
    print(f"training on {len(train)}, keeping {len(holdout)} as the fixed evaluation slice")
    report, threshold, discard = training.evaluate(train, args.folds or 5)
    print(json.dumps(report, indent=2))
    started = time.monotonic()
    pipeline = training.fit(train)
    fit_seconds = time.monotonic() - started
    holdout_figures = retraining.evaluate_on(pipeline, threshold, holdout)
    print("evaluation slice:", json.dumps(holdout_figures))
    now = datetime.now(UTC)
    metadata = model.save(
        pipeline,
        {
            "version": "shipped-" + now.strftime("%Y%m%d.%H%M%S"),
            "created": now.isoformat(timespec="seconds"),
            "parent": None,
            "threshold": threshold,
            "discard_threshold": discard,
            "thresholds_chosen_for": {
                "threshold": f"at most {training.TARGET_HAM_BLOCKED:.2%} of ham blocked (out-of-fold)",
                "discard_threshold": f"at most {training.DISCARD_HAM_BLOCKED:.2%} of ham blocked (out-of-fold)",
            },
            "corpora": [i.as_dict() for i in infos],
            "training": {"rows": len(train), "spam": int(sum(train.labels)), "fit_seconds": round(fit_seconds, 1)},
            "scores": {"cross_validation": report, "evaluation_slice": holdout_figures},
        },
        args.out,
    )
    print(f"wrote {args.out} version {metadata['version']} threshold {threshold:.4f} discard {discard:.4f}")
    return 0


def _app() -> Any:
    from spamfilter import create_app

    return create_app()


def retrain(args: argparse.Namespace) -> int:
    app = _app()
    service = app.extensions["spamfilter"]
    with retraining.training_lock(app.extensions["spamfilter.engine"], app.instance_path) as mine:
        if not mine:
            print("skipped: another retraining is running")
            return 0
        current = service.models.model
        ds, infos = load_all(args.corpora, None if args.no_seed else args.seed)
        with service.sessions() as session:
            outcome = retraining.retrain(
                session,
                ds,
                [i.as_dict() for i in infos],
                current,
                force=args.force,
                min_new_labels=args.min_new_labels,
                folds=args.folds or 3,
            )
    print(outcome.message)
    return 0


def list_versions(_args: argparse.Namespace) -> int:
    app = _app()
    service = app.extensions["spamfilter"]
    with service.sessions() as session:
        current = registry.current_version(session)
        rows = registry.versions(session)
        note = session.get(ModelCurrent, 1)
    shipped = model.load(service.models.shipped).metadata
    line = "{:1} {:>8}  {:<19}  {:>6}  {:>6}  {:>11}  {:>11}  {}"
    print(line.format("", "version", "created", "parent", "labels", "caught@0.1%", "ham blocked", "note"))
    for row in rows:
        gate = row.info.get("scores", {}).get("gate", {}).get("candidate", {})
        print(
            line.format(
                "*" if row.version == current else "",
                row.version,
                f"{row.created_at:%Y-%m-%d %H:%M:%S}",
                row.info.get("parent") or "-",
                row.info.get("training", {}).get("labels", 0),
                f"{gate.get('spam_caught_at_0.1pct_ham_blocked', float('nan')):.4f}",
                f"{gate.get('ham_blocked', float('nan')):.4f}",
                "forced" if row.info.get("forced") else "",
            )
        )
    created = shipped["created"][:19].replace("T", " ")
    shipped_note = f"{service.models.shipped.name} {shipped['version']}"
    print(line.format("*" if current is None else "", "shipped", created, "-", 0, "", "", shipped_note))
    if note is not None and note.note:
        print(f"last change {note.changed_at:%Y-%m-%d %H:%M:%S}: {note.note}")
    return 0


def rollback(args: argparse.Namespace) -> int:
    app = _app()
    service = app.extensions["spamfilter"]
    with service.sessions() as session:
        current = registry.current_version(session)
        if args.rollback == "parent":
            if current is None:
                print("already serving the shipped model; nothing to roll back to", file=sys.stderr)
                return 1
            target = session.get(ModelVersion, current).info.get("parent")
        elif args.rollback == "shipped":
            target = None
        else:
            target = int(args.rollback)
            if session.get(ModelVersion, target) is None:
                print(f"no model version {target}", file=sys.stderr)
                return 1
        registry.set_current(session, target, f"rollback from {current or 'shipped'}")
        session.commit()
    print(f"now serving {'the shipped model' if target is None else f'version {target}'} (was {current or 'shipped'})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA, help="folder of corpus folders")
    parser.add_argument("--seed", type=Path, default=SEED_DIR, help="seed blog-comment corpus folder")
    parser.add_argument("--no-seed", action="store_true", help="train on --corpora only")
    parser.add_argument("--folds", type=int, help="cross-validation folds for the thresholds (5 to ship, 3 to retrain)")
    parser.add_argument("--force", action="store_true", help="promote even when the gate rejects (logged)")
    parser.add_argument("--min-new-labels", type=int, default=20, help="skip when fewer new labels than this")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--ship", nargs="?", const=DEFAULT_MODEL_PATH, type=Path, dest="out", help="write the shipped model file"
    )
    mode.add_argument("--list", action="store_true", help="list model versions")
    mode.add_argument("--rollback", nargs="?", const="parent", help="serve VERSION again ('shipped' for the file)")
    args = parser.parse_args(argv)
    if args.out:
        return ship(args)
    if args.list:
        return list_versions(args)
    if args.rollback:
        return rollback(args)
    return retrain(args)


if __name__ == "__main__":
    sys.exit(main())
