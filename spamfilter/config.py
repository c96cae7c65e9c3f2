"""Configuration defaults; every key can be set from the environment as ``SPAMFILTER_<KEY>``.

Flask's ``from_prefixed_env`` parses values as JSON when they are JSON (numbers,
``true``), so ``SPAMFILTER_MAX_CONTENT_LENGTH=1000000`` is an integer.
"""

from __future__ import annotations

import os
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
    }


def service_hosts(value: str | list[str]) -> list[str]:
    items = value.split(",") if isinstance(value, str) else value
    return [h.strip().lower() for h in items if h.strip()]
