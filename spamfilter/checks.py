"""The check service: score a comment, log the check, and store moderator labels.

Request parsing happens before this module and HTTP answers after it, so the
Akismet and JSON APIs share one path: comment -> record -> model -> verdict -> log.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from . import metrics
from .backlog import CheckLog, LabelSpool
from .db import ApiKey, Check, CommentColumns, Label, utcnow
from .keys import KeyCache, normalize_site
from .params import Comment
from .registry import ModelHolder
from .verdict import Verdict, decide

log = logging.getLogger(__name__)

GUID_WAIT_SECONDS = 1.0  # how long a submission waits for its check to be logged (the log writes every 0.1 s)
_GUID = re.compile(r"[0-9a-f]{32}")  # what uuid4().hex issues


def content_hash(content: str, author: str, email: str) -> str:
    """Identity of a comment for matching a submission to its check (whitespace-insensitive)."""
    parts = (" ".join(content.split()), author.strip().lower(), email.strip().lower())
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _comment_columns(comment: Comment) -> dict[str, str]:
    return {
        "site": normalize_site(comment.blog),
        "content": comment.get("comment_content"),
        "content_hash": content_hash(
            comment.get("comment_content"), comment.get("comment_author"), comment.get("comment_author_email")
        ),
        "author": comment.get("comment_author"),
        "author_email": comment.get("comment_author_email"),
        "author_url": comment.get("comment_author_url"),
        "user_ip": comment.get("user_ip")[:64],
        "user_agent": comment.get("user_agent"),
        "referrer": comment.get("referrer"),
        "permalink": comment.get("permalink"),
        "comment_type": comment.get("comment_type")[:64],
    }


def _check_columns(check: Check) -> dict[str, str]:
    """The comment columns of a logged check, to label the comment exactly as it was checked."""
    return {c: getattr(check, c) for c in CommentColumns.__annotations__}


@dataclass(frozen=True, slots=True)
class CheckResult:
    guid: str
    verdict: Verdict
    model_version: str


class CheckService:
    def __init__(
        self,
        models: ModelHolder,
        sessions: sessionmaker[Session],
        reasons: int = 5,
        spool_path: Path | None = None,
        key_cache_seconds: float = 30.0,
    ) -> None:
        self.models = models
        self.sessions = sessions
        self.reasons = reasons
        self.keys = KeyCache(sessions, key_cache_seconds)
        self.log = CheckLog(sessions)
        self.spool = LabelSpool(spool_path or Path("label-spool.jsonl"), self._replay_label)

    def find_key(self, key: str | None, fresh: bool = False) -> ApiKey | None:
        return self.keys.find(key, fresh)

    def check(self, key: ApiKey, comment: Comment) -> CheckResult:
        return self.check_many(key, [comment])[0]

    def check_many(self, key: ApiKey, comments: list[Comment]) -> list[CheckResult]:
        """Score comments with one model (batches share the featurising work) and log each check."""
        model = self.models.model
        scored = model.score([c.record() for c in comments], reasons=self.reasons)
        results = []
        for comment, score in zip(comments, scored, strict=True):
            verdict = decide(comment, score, model)
            guid = uuid.uuid4().hex
            # Logged by a background thread: the answer does not wait for the database.
            self.log.add(
                {
                    "guid": guid,
                    "key_id": key.id,
                    "created_at": utcnow(),
                    "verdict": verdict.verdict,
                    "score": verdict.score,
                    "model_version": model.version,
                    "is_test": comment.is_test,
                    "reasons": [r.as_dict() for r in verdict.reasons],
                    **_comment_columns(comment),
                }
            )
            metrics.VERDICTS.labels(verdict.verdict).inc()
            results.append(CheckResult(guid, verdict, model.version))
        self.spool.ensure_running()
        metrics.model_served(model.version)
        return results

    def submit(self, key: ApiKey, comment: Comment, label: str, source: str) -> None:
        """Record a label sent by a client (submit-spam/submit-ham) for a comment it checked.

        If the database is away, the label goes to the spool and is stored later.
        """
        if comment.is_test:  # Akismet: never learn from test calls
            return
        item = {
            "key_id": key.id,
            "guid": comment.get("guid").strip().lower(),
            "columns": _comment_columns(comment),
            "label": label,
            "source": source,
            "submitted_by": f"key {key.hint}…",
        }
        metrics.LABELS.labels(label, source).inc()
        self.log.flush(timeout=1.0)  # the check may still be queued in this process
        try:
            self._submit(item)
        except SQLAlchemyError as exc:
            log.warning("label store unavailable, spooling the label: %s", exc.__class__.__name__)
            self.spool.append(item)

    def _replay_label(self, item: dict[str, Any]) -> None:
        # The check it refers to may be waiting in the log's queue too: write that first.
        self.log.flush(timeout=10.0)
        self._submit(item)

    def _submit(self, item: dict[str, Any]) -> None:
        """Store a submitted label against the check it refers to (by guid, else by site and comment)."""
        if item["label"] not in {"spam", "ham"}:
            raise ValueError(f"label must be spam or ham, not {item['label']!r}")
        with self.sessions() as session:
            check = self._matching_check(session, item["key_id"], item["guid"], item["columns"])
            columns = _check_columns(check) if check is not None else item["columns"]  # as it was checked
            values = {**columns, "key_id": item["key_id"], "check_guid": check.guid if check else None}
            self._store_label(session, values, item["label"], item["source"], item["submitted_by"])

    def label_check(self, guid: str, label: str, source: str, submitted_by: str) -> bool:
        """Record a label for a logged check (the review page); False when there is no such check."""
        self.log.flush(timeout=1.0)
        with self.sessions() as session:
            check = session.scalars(select(Check).where(Check.guid == guid)).first()
            if check is None:
                return False
            if not check.is_test:
                metrics.LABELS.labels(label, source).inc()
                values = {**_check_columns(check), "key_id": check.key_id, "check_guid": check.guid}
                self._store_label(session, values, label, source, submitted_by)
            return True

    def import_label(self, columns: dict[str, str], label: str, submitted_by: str) -> None:
        """Record a label from a CSV import (no check to match it to)."""
        values = {
            **columns,
            "content_hash": content_hash(columns["content"], columns["author"], columns["author_email"]),
        }
        with self.sessions() as session:
            self._store_label(session, values, label, "import", submitted_by)

    @staticmethod
    def _store_label(session: Session, values: dict[str, object], label: str, source: str, by: str) -> None:
        """Insert or update the one label row of (site, comment); safe under concurrent requests."""
        if label not in {"spam", "ham"}:
            raise ValueError(f"label must be spam or ham, not {label!r}")
        values = {**values, "label": label, "source": source, "submitted_by": by}
        for _attempt in range(3):
            row = session.scalars(
                select(Label).where(Label.site == values["site"], Label.content_hash == values["content_hash"])
            ).first()
            if row is None:
                session.add(Label(**values))
            else:
                for k, v in values.items():
                    setattr(row, k, v)
                row.updated_at = utcnow()
            try:
                session.commit()
                return
            except IntegrityError:  # another request inserted the same label first
                session.rollback()
        raise RuntimeError("could not store label after 3 attempts")

    @staticmethod
    def _matching_check(session: Session, key_id: int, guid: str, columns: dict[str, str]) -> Check | None:
        if guid:
            deadline = time.monotonic() + GUID_WAIT_SECONDS
            while True:
                check = session.scalars(select(Check).where(Check.guid == guid, Check.key_id == key_id)).first()
                if check is not None:
                    return check
                # Checks are logged in the background: one made a moment ago by another worker
                # or node may not be written yet. Only a guid this service could have issued waits.
                if not _GUID.fullmatch(guid) or time.monotonic() >= deadline:
                    break
                session.rollback()  # a new transaction sees rows committed since
                time.sleep(0.1)
        return session.scalars(
            select(Check)
            .where(Check.site == columns["site"], Check.content_hash == columns["content_hash"])
            .order_by(Check.created_at.desc())
        ).first()
