"""Retraining from moderator labels, gated so that a worse model is never promoted.

A candidate is trained on the corpora plus the site's labels (recent labels weigh
more, so the model adapts to the site), then it and the model in service are scored
on the same fixed evaluation slice: rows of the corpora and of the labels that no
model is ever trained on (chosen by a hash of their text, so the slice stays put as
labels accumulate). The candidate is promoted only if it catches at least as much
spam at <=0.1% ham blocked and blocks no more ham at its threshold, on the whole
slice and on its corpora part (see :class:`Gate`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sklearn.pipeline import Pipeline
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from . import model as model_io
from . import registry, training
from .corpora import Dataset, assign_near_duplicate_groups
from .db import Label, utcnow
from .model import Model

CORPORA_HOLDOUT_PERCENT = 10
LABELS_HOLDOUT_PERCENT = 20
SITE_WEIGHT = 4.0  # a label made today weighs 1 + SITE_WEIGHT times a corpus row ...
HALF_LIFE_DAYS = 30.0  # ... and that extra weight halves every HALF_LIFE_DAYS
LABELS_CORPUS = "moderator_labels"


def label_weight(age_days: float) -> float:
    return 1.0 + SITE_WEIGHT * 0.5 ** (max(age_days, 0.0) / HALF_LIFE_DAYS)


def labels_dataset(session: Session, now: datetime | None = None) -> Dataset:
    """Every stored moderator label as a training row."""
    now = now or utcnow()
    ds = Dataset()
    for row in session.scalars(select(Label).order_by(Label.id)):
        record = {
            "content": row.content,
            "author": row.author,
            "email": row.author_email,
            "url": row.author_url,
            "user_agent": row.user_agent,
            "referrer": row.referrer,
            "user_ip": row.user_ip,
            "comment_type": row.comment_type,
            "permalink": row.permalink,
            "blog": row.site,
        }
        age = (now - row.updated_at).total_seconds() / 86400
        ds.add(record, int(row.label == "spam"), LABELS_CORPUS, f"label:{row.id}", row.site, label_weight(age))
    return ds


def new_label_count(session: Session, since: str | None) -> int:
    query = select(Label.id)
    if since:
        query = query.where(Label.updated_at > datetime.fromisoformat(since))
    return len(session.scalars(query).all())


# The corpora part of the slice is data no moderator (nor attacker with a key) can touch.
# Its figures move a little between two fits on nearly the same data, so there the
# candidate may trail by at most this much; beyond it, the labels must have taught it
# something the corpora contradict (a poisoned label set does exactly that).
CORPORA_CAUGHT_SLACK = 0.01  # spam caught at <=0.1% ham blocked, absolute
# Ham comments blocked at each model's own threshold, on either part: that threshold is
# itself fitted, and one comment more or less among a thousand is the same refit noise.
HAM_SLACK_ROWS = 1


@dataclass
class Gate:
    candidate: dict[str, Any]  # figures on the whole evaluation slice (corpora + labels)
    current: dict[str, Any]
    candidate_corpora: dict[str, Any]  # figures on its corpora part only
    current_corpora: dict[str, Any]

    @staticmethod
    def _no_worse(candidate: dict[str, Any], current: dict[str, Any], caught_slack: float, ham_slack: float) -> bool:
        key = "spam_caught_at_0.1pct_ham_blocked"
        return (
            candidate[key] >= current[key] - caught_slack
            and candidate["ham_blocked"] <= current["ham_blocked"] + ham_slack
        )

    @property
    def passed(self) -> bool:
        def ham_slack(figures: dict[str, Any]) -> float:
            return HAM_SLACK_ROWS / max(int(figures.get("ham") or 0), 1)

        return self._no_worse(self.candidate, self.current, 0.0, ham_slack(self.current)) and self._no_worse(
            self.candidate_corpora, self.current_corpora, CORPORA_CAUGHT_SLACK, ham_slack(self.current_corpora)
        )

    def table(self, candidate_name: str, current_name: str) -> str:
        return (
            self._table(self.candidate, self.current, candidate_name, current_name, "whole slice")
            + "\n"
            + self._table(self.candidate_corpora, self.current_corpora, candidate_name, current_name, "corpora part")
        )

    @staticmethod
    def _table(candidate: dict[str, Any], current: dict[str, Any], cand_name: str, cur_name: str, title: str) -> str:
        figures = [
            ("spam caught at <=0.1% ham blocked", "spam_caught_at_0.1pct_ham_blocked"),
            ("ham blocked at own threshold", "ham_blocked"),
            ("spam caught at own threshold", "spam_caught"),
            ("ROC AUC", "roc_auc"),
        ]
        rows = [("evaluation rows (spam/ham)", f"{candidate['spam']}/{candidate['ham']}", "")]
        rows += [
            (name, f"{candidate.get(key, float('nan')):.4f}", f"{current.get(key, float('nan')):.4f}")
            for name, key in figures
        ]
        width = max(len(r[0]) for r in rows)
        lines = [f"{title:<{width}}  {cand_name:>14}  {cur_name:>14}"]
        lines += [f"{name:<{width}}  {a:>14}  {b:>14}" for name, a, b in rows]
        return "\n".join(lines)


def evaluate_on(pipeline: Pipeline, threshold: float, ds: Dataset) -> dict[str, Any]:
    """Figures of a fitted pipeline on ``ds`` at ``threshold``."""
    return training.figures(ds.y, pipeline.predict_proba(ds.records)[:, 1], threshold)


@contextlib.contextmanager
def training_lock(engine: Engine, instance_path: str) -> Iterator[bool]:
    """Yield True when this process may train: one trainer at a time per database."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(727275)")).scalar())
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(727275)"))
        return
    path = Path(instance_path) / "retrain.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@dataclass
class Outcome:
    promoted: bool
    version: int | None
    message: str


def retrain(
    session: Session,
    corpora: Dataset,
    corpora_info: list[dict[str, Any]],
    current: Model,
    *,
    force: bool = False,
    min_new_labels: int = 20,
    folds: int = 3,
    log: Any = print,
) -> Outcome:
    """Train, gate and (maybe) promote a candidate; returns what happened."""
    since = current.metadata.get("labels_until")
    fresh = new_label_count(session, since)
    if fresh < min_new_labels and not force:
        return Outcome(False, None, f"skipped: {fresh} new labels since model {current.version}, need {min_new_labels}")

    labels = labels_dataset(session)
    labels_until = utcnow().isoformat()
    corpora_train, corpora_eval = corpora.split(CORPORA_HOLDOUT_PERCENT)
    labels_train, labels_eval = labels.split(LABELS_HOLDOUT_PERCENT)
    train = Dataset()
    train.extend(corpora_train)
    train.extend(labels_train)
    assign_near_duplicate_groups(train)
    evaluation = Dataset()
    evaluation.extend(corpora_eval)
    evaluation.extend(labels_eval)
    log(
        f"training on {len(corpora_train)} corpus rows + {len(labels_train)} labels "
        f"({fresh} new); evaluating on {len(corpora_eval)} corpus rows + {len(labels_eval)} labels"
    )

    report, threshold, discard = training.evaluate(train, folds)
    pipeline = training.fit(train)
    candidate_figures = evaluate_on(pipeline, threshold, evaluation)
    current_figures = evaluate_on(current.pipeline, current.threshold, evaluation)
    gate = Gate(
        candidate_figures,
        current_figures,
        evaluate_on(pipeline, threshold, corpora_eval),
        evaluate_on(current.pipeline, current.threshold, corpora_eval),
    )
    log(gate.table("candidate", f"current ({current.version})"))

    parent = current.metadata.get("registry_version")
    data, metadata = model_io.serialize(
        pipeline,
        {
            "created": utcnow().isoformat(timespec="seconds"),
            "parent": parent,
            "parent_version": current.version,
            "threshold": threshold,
            "discard_threshold": discard,
            "labels_until": labels_until,
            "corpora": corpora_info,
            "training": {
                "corpus_rows": len(corpora_train),
                "labels": len(labels_train),
                "new_labels": fresh,
                "spam": int(sum(train.labels)),
            },
            "scores": {
                "cross_validation": report,
                "gate": {
                    "candidate": candidate_figures,
                    "current": current_figures,
                    "candidate_corpora": gate.candidate_corpora,
                    "current_corpora": gate.current_corpora,
                },
            },
            "forced": force and not gate.passed,
        },
    )
    promote = gate.passed or force
    note = "promoted: no worse than current" if gate.passed else ("FORCED despite gate" if force else "rejected")
    version = registry.publish(session, data, metadata, promote, note)
    if promote:
        return Outcome(True, version, f"version {version} promoted ({note})")
    return Outcome(False, version, f"version {version} rejected by the gate; model {current.version} stays")
