"""Model versions and the one in service.

The shipped model file (``models/default.joblib``) serves until a trained version
is promoted. Trained versions are numbered rows in the database, bytes included, so
every node sharing the database serves the same model; promotion and rollback
change one row in one transaction. Each process polls that row every few seconds
and swaps models between requests, never failing one: if a version cannot be
loaded, it keeps serving the last good model and says why in ``last_error``.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, defer, sessionmaker

from . import model as model_io
from .db import ModelCurrent, ModelVersion, utcnow
from .errors import ModelError
from .model import Model

log = logging.getLogger(__name__)
_NONE = object()


def current_version(session: Session) -> int | None:
    return session.scalar(select(ModelCurrent.version).where(ModelCurrent.id == 1))


def set_current(session: Session, version: int | None, note: str = "") -> None:
    """Point the service at ``version`` (None: the shipped file). The caller commits."""
    row = session.get(ModelCurrent, 1)
    if row is None:
        session.add(ModelCurrent(id=1, version=version, note=note, changed_at=utcnow()))
    else:
        row.version, row.note, row.changed_at = version, note, utcnow()


def publish(session: Session, data: bytes, metadata: dict[str, Any], promote: bool, note: str = "") -> int:
    """Store a new numbered version (and make it current when ``promote``) in one transaction."""
    version = (session.scalar(select(func.max(ModelVersion.version))) or 0) + 1
    # The metadata names its own number, so that a child version can name its parent.
    metadata = {**metadata, "version": str(version), "registry_version": version}
    session.add(
        ModelVersion(
            version=version, parent=metadata.get("parent"), sha256=metadata["sha256"], info=metadata, data=data
        )
    )
    session.flush()
    if promote:
        set_current(session, version, note)
    session.commit()
    return version


def versions(session: Session) -> list[ModelVersion]:
    """All versions, newest first, without their bytes."""
    return list(
        session.scalars(select(ModelVersion).options(defer(ModelVersion.data)).order_by(ModelVersion.version.desc()))
    )


def load_version(session: Session, version: int) -> Model:
    row = session.get(ModelVersion, version)
    if row is None:
        raise ModelError(f"model version {version} does not exist")
    return model_io.from_bytes(row.data, row.info, f"version {version}")


_REGISTRY_ERROR = "cannot read the model registry"


class ModelHolder:
    """The model in service in this process; shared by its threads."""

    def __init__(self, shipped: Path, sessions: sessionmaker[Session] | None, poll_seconds: float = 2.0) -> None:
        self.shipped = shipped
        self.sessions = sessions
        self.poll_seconds = poll_seconds
        self.last_error: str | None = None
        self._lock = threading.Lock()
        self._model: Model | None = None
        self._serving: int | None = None  # registry version, None = shipped file
        self._failed: object = _NONE  # a version that failed to load; not retried
        self._next_poll = 0.0

    @property
    def model(self) -> Model:
        if self._model is None or time.monotonic() >= self._next_poll:
            self.refresh(wait=self._model is None)
        if self._model is None:
            raise ModelError(self.last_error or "no model loaded")
        return self._model

    def refresh(self, wait: bool = True) -> None:
        """Load the version the database names, if it changed. Threads that find the lock
        taken keep using the current model instead of waiting."""
        if not self._lock.acquire(blocking=wait):
            return
        try:
            if self._model is not None and time.monotonic() < self._next_poll:
                return  # another thread just did it
            self._next_poll = time.monotonic() + self.poll_seconds
            try:
                wanted = self._wanted_version()
            except SQLAlchemyError as exc:  # database down: keep what we have, or the shipped file
                self.last_error = f"{_REGISTRY_ERROR}: {exc.__class__.__name__}: {exc}"
                if self._model is not None:
                    return
                wanted = None
            else:
                if self.last_error and self.last_error.startswith(_REGISTRY_ERROR):  # the database is back
                    self.last_error = None
            if self._model is not None and wanted == self._serving:
                return
            if wanted == self._failed:
                return
            try:
                self._model = self._load(wanted)
                self._serving, self._failed, self.last_error = wanted, _NONE, None
                log.info("serving model %s", self._model.version)
            except (ModelError, SQLAlchemyError) as exc:
                self._failed = wanted
                log.error("could not load model %s: %s", wanted, exc)
                if self._model is None and wanted is not None:  # starting up: the shipped file will do
                    self._model, self._serving = model_io.load(self.shipped), None
                self.last_error = f"kept model {self._model.version if self._model else 'none'}: {exc}"
        finally:
            self._lock.release()

    def _wanted_version(self) -> int | None:
        if self.sessions is None:
            return None
        with self.sessions() as session:
            return current_version(session)

    def _load(self, version: int | None) -> Model:
        if version is None:
            return model_io.load(self.shipped)
        assert self.sessions is not None
        with self.sessions() as session:
            return load_version(session, version)
