"""Per-key rate limits for the API (Flask-Limiter).

Counters live in process memory by default (each gunicorn worker counts for
itself); with ``RATE_LIMIT_STORAGE=redis://127.0.0.1:6379`` every worker and
node shares them. A refused call is HTTP 429 with ``Retry-After``: the Automattic
SDK maps that to a rate-limit error, and older clients treat any non-200 as "try
again later" (WordPress keeps the comment pending and re-checks). If Redis is
away, limits fall back to memory instead of failing checks.
"""

from __future__ import annotations

import math
import time

from flask import Blueprint, Flask, Response, request
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address

from .keys import hash_key


def rate_limit_key() -> str:
    """Who is counted: the API key when the request names one, else the client address."""
    from . import akismet_api, json_api  # the body parsing of each API, cached on the request

    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        key = auth[7:].strip()
    elif request.is_json:
        body = json_api.request_json()
        key = str(body.get("api_key") or "") if isinstance(body, dict) else ""
    else:
        key = akismet_api.key_text(akismet_api.request_fields()) or ""
    return f"key:{hash_key(key)[:16]}" if key else f"ip:{get_remote_address()}"


def _refused(limit: RequestLimit) -> Response:
    retry_after = max(1, math.ceil(limit.reset_at - time.time()))
    message = f"Rate limit exceeded: {limit.limit}. Retry after {retry_after} s."
    return Response(
        message,
        429,
        mimetype="text/plain",
        headers={"Retry-After": str(retry_after), "X-akismet-debug-help": message},
    )


def init_app(app: Flask, blueprints: list[Blueprint]) -> Limiter:
    """Limit every route of ``blueprints`` to ``RATE_LIMIT`` per key (empty: no limit)."""
    limit = str(app.config["RATE_LIMIT"] or "").strip()
    limiter = Limiter(
        key_func=rate_limit_key,
        storage_uri=app.config["RATE_LIMIT_STORAGE"],
        strategy="fixed-window",  # one counter per key and window: the cheapest per request
        on_breach=_refused,
        swallow_errors=True,  # a storage outage must not turn checks into errors
        in_memory_fallback_enabled=True,
        enabled=bool(limit),
        key_prefix="spamfilter",
    )
    limiter.init_app(app)
    if limit:
        for bp in blueprints:
            limiter.limit(limit)(bp)
    return limiter
