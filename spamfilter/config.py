"""Configuration defaults; every key can be set from the environment as ``SPAMFILTER_<KEY>``.

Flask's ``from_prefixed_env`` parses values as JSON when they are JSON (numbers,
``true``), so ``SPAMFILTER_MAX_CONTENT_LENGTH=1000000`` is an integer.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MODEL_PATH = REPO / "models" / "default.joblib"


def defaults(instance_path: str) -> dict[str, Any]:
    return {
        # SQLite file in the instance folder unless DATABASE_URL points elsewhere.
        "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{Path(instance_path) / 'spamfilter.sqlite3'}",
        "MODEL_PATH": str(DEFAULT_MODEL_PATH),
        # Host names clients are configured with; "KEY.<one of these>" carries a key.
        "SERVICE_HOSTS": "rest.akismet.com,localhost",
        # Largest request body; a bigger one gets HTTP 413.
        "MAX_CONTENT_LENGTH": 4 * 1024 * 1024,
        # How often each process looks for a newly promoted model.
        "MODEL_POLL_SECONDS": 2.0,
        # How many reasons the JSON API returns per verdict.
        "REASONS": 5,
        # Logged checks older than this many days are anonymised or deleted (0 = kept).
        "RETENTION_DAYS": 0,
        # "anonymise" (blank IP, e-mail, name, URL, user agent, referrer) or "delete".
        "RETENTION_MODE": "anonymise",
        # Most comments in one POST /api/v1/check batch.
        "MAX_BATCH": 1000,
        # The review page (/moderate). SECRET_KEY signs its session cookie; unset, one is
        # made once and kept in the instance folder (see instance_secret).
        "SECRET_KEY": None,
        # Secure: the cookie only travels over https (browsers also send it to http://localhost
        # and 127.0.0.1); set false to sign in over plain http on another host name.
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "spamfilter_session",
        # A moderator is signed out after this many seconds without a request.
        "PERMANENT_SESSION_LIFETIME": 12 * 3600,
        # A form's CSRF token lives as long as the session, not a fixed hour.
        "WTF_CSRF_TIME_LIMIT": None,
        # Checks per page on the review page.
        "MODERATE_PAGE_SIZE": 50,
        # Labels that arrive while the database is away wait here (one JSON line each).
        "LABEL_SPOOL": str(Path(instance_path) / "label-spool.jsonl"),
        # How long a process trusts a key it looked up (a revoked key stops within this).
        "KEY_CACHE_SECONDS": 30.0,
        # Calls per key to the APIs (`limits` syntax, e.g. "100/second;20000/hour"); "" = no limit.
        "RATE_LIMIT": "100/second",
        # Where limits are counted: "memory://" (per process) or "redis://127.0.0.1:6379" (shared).
        "RATE_LIMIT_STORAGE": "memory://",
    }


def service_hosts(value: str | list[str]) -> list[str]:
    items = value.split(",") if isinstance(value, str) else value
    return [h.strip().lower() for h in items if h.strip()]


SECRET_FILE = "secret_key"


def instance_secret(instance_path: str) -> str:
    """The secret key kept in the instance folder, made on first use (mode 0600).

    Every gunicorn worker and every restart must sign cookies with the same key, or
    moderators are signed out at random; so the key is written once, atomically (a
    hard link that fails if another process got there first), and then only read.
    Nodes that do not share the instance folder need ``SPAMFILTER_SECRET_KEY``.
    """
    path = Path(instance_path) / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{SECRET_FILE}.")  # created 0600
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:  # another process made it first: use theirs
                pass
        finally:
            os.unlink(tmp)
    key = path.read_text().strip()
    if not key:
        raise RuntimeError(f"{path} is empty; delete it to make a new secret key")
    return key
