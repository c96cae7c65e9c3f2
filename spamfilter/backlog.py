"""Writes that must not hold up a check nor be lost when the database is away.

* Logged checks are queued and inserted by a background thread in batches: a
  check answers from the model without waiting for the database, and a database
  outage only delays the log (rows wait in memory, up to a bound).
* Labels (``submit-spam``/``submit-ham``) that cannot be stored right now are
  appended to a spool file (one JSON line each, fsynced) and stored later, so a
  client is never told "thanks" for a label that then disappears.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from .db import Check

log = logging.getLogger(__name__)

BATCH = 500  # rows per INSERT
MAX_PENDING = 200_000  # checks kept in memory while the database is away (~1 KB each)
RETRY_SECONDS = (0.5, 1, 2, 5, 10, 30)


class CheckLog:
    """Queue of check rows, written by one background thread per process.

    The thread is started lazily and again after a fork (gunicorn preloads the app
    in the master, whose threads do not survive into the workers).
    """

    def __init__(self, sessions: sessionmaker[Session], interval: float = 0.1) -> None:
        self.sessions = sessions
        self.interval = interval
        self.pending: deque[dict[str, Any]] = deque()
        self.dropped = 0  # rows given up because the queue was full during an outage
        self.last_error: str | None = None
        self._wake = threading.Condition()
        self._busy = 0  # rows taken off the queue and not yet committed
        self._flushers = 0  # threads waiting in flush()
        self._pid = -1
        self._thread: threading.Thread | None = None

    def add(self, row: dict[str, Any]) -> None:
        with self._wake:
            if len(self.pending) >= MAX_PENDING:
                self.pending.popleft()
                self.dropped += 1
            self.pending.append(row)
            self._ensure_thread()
            if len(self.pending) >= BATCH:
                self._wake.notify()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued row is written; False if that took longer than ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._wake:
            self._ensure_thread()
            self._flushers += 1  # the writer stops gathering batches while anyone waits
            self._wake.notify_all()
            try:
                while self.pending or self._busy:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self._wake.wait(min(left, 0.05))
            finally:
                self._flushers -= 1
        return True

    def _ensure_thread(self) -> None:
        if self._pid != os.getpid() or self._thread is None or not self._thread.is_alive():
            self._pid = os.getpid()
            self._busy = 0
            self._thread = threading.Thread(target=self._run, name="spamfilter-check-log", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        failures = 0
        while True:
            with self._wake:
                # Gather a batch (one commit for many checks) unless someone waits in flush().
                if not self.pending or (len(self.pending) < BATCH and not self._flushers):
                    self._wake.wait(self.interval)
                batch = [self.pending.popleft() for _ in range(min(BATCH, len(self.pending)))]
                self._busy = len(batch)
            if not batch:
                continue
            try:
                with self.sessions() as session:
                    # A Core insert of the table: the ORM's bulk insert costs a sixth more per row.
                    session.execute(insert(Check.__table__), batch)
                    session.commit()
                failures, self.last_error = 0, None
            except SQLAlchemyError as exc:
                self.last_error = f"{exc.__class__.__name__}: {str(exc).splitlines()[0][:200]}"
                log.warning("could not write %d logged checks, will retry: %s", len(batch), self.last_error)
                with self._wake:
                    self.pending.extendleft(reversed(batch))
                time.sleep(RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)])
                failures += 1
            finally:
                with self._wake:
                    self._busy = 0
                    self._wake.notify_all()


class LabelSpool:
    """Labels waiting for the database, in an append-only file shared by all workers."""

    def __init__(self, path: Path, store: Callable[[dict[str, Any]], None], interval: float = 5.0) -> None:
        self.path = path
        self.store = store  # stores one spooled label; raises SQLAlchemyError while the database is away
        self.interval = interval
        self._pid = -1
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def append(self, item: dict[str, Any]) -> None:
        line = json.dumps(item, ensure_ascii=False).encode() + b"\n"
        with self._locked("ab") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        self.ensure_running()

    def pending(self) -> int:
        try:
            with self.path.open("rb") as f:
                return sum(1 for _ in f)
        except FileNotFoundError:
            return 0

    def replay(self) -> int:
        """Store what is spooled; what still fails stays in the file. Returns the number stored."""
        if not self.path.exists():
            return 0
        stored = 0
        with self._locked("r+b") as f:
            lines = [line for line in f.read().splitlines() if line.strip()]
            left: list[bytes] = []
            for i, line in enumerate(lines):
                try:
                    self.store(json.loads(line))
                    stored += 1
                except SQLAlchemyError:
                    left = lines[i:]  # the database is away again: keep the rest, in order
                    break
                except (ValueError, KeyError, TypeError) as exc:  # a line that can never be stored
                    log.error("dropping unreadable spooled label: %s", exc)
            f.seek(0)
            f.truncate()
            f.write(b"".join(line + b"\n" for line in left))
            f.flush()
            os.fsync(f.fileno())
        return stored

    def _locked(self, mode: str) -> Any:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if mode == "r+b" and not self.path.exists():
            self.path.touch()
        return _Locked(self.path, mode)

    def ensure_running(self) -> None:
        """Start this process's replay thread (cheap when it runs: called on every check)."""
        if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._pid != os.getpid() or self._thread is None or not self._thread.is_alive():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="spamfilter-label-spool", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        # Every process replays (under the file lock), so a spool left by a crash is picked up too.
        while True:
            time.sleep(self.interval)
            try:
                if self.path.exists() and self.path.stat().st_size:
                    stored = self.replay()
                    if stored:
                        log.info("stored %d spooled labels", stored)
            except OSError as exc:
                log.error("label spool %s: %s", self.path, exc)


class _Locked:
    """An open file under an exclusive ``flock``, so workers never interleave or lose lines."""

    def __init__(self, path: Path, mode: str) -> None:
        self.file = path.open(mode)

    def __enter__(self) -> Any:
        fcntl.flock(self.file, fcntl.LOCK_EX)
        return self.file

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.file, fcntl.LOCK_UN)
        self.file.close()
