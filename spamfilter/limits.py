"""Per-key rate limits for the API, counted by the ``limits`` library.

Counters live in process memory by default (each gunicorn worker counts for
itself); with ``RATE_LIMIT_STORAGE=redis://127.0.0.1:6379`` every worker and
node shares them. A refused call is HTTP 429 with ``Retry-After``: the Automattic
SDK maps that to a rate-limit error, and older clients treat any non-200 as "try
again later" (WordPress keeps the comment pending and re-checks). If Redis is
away, limits fall back to memory instead of failing checks.

``limits`` is the engine under Flask-Limiter. Flask-Limiter itself cost 0.2 ms of
CPU per check (resolving decorators, scopes and exemptions on every request),
a fifth of a whole check, where one counter hit costs about 2 µs; one hook per
API blueprint does all this service needs.
"""

from __future__ import annotations

import math
import time
from typing import Any

from flask import Blueprint, Flask, Response, request
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from .keys import hash_key

PREFIX = "spamfilter"
REDIS_RETRY_SECONDS = 5.0  # after a storage error, count in memory this long before asking Redis again


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
    return f"key:{hash_key(key)[:16]}" if key else f"ip:{request.remote_addr or '-'}"


class QuietMemoryStorage(MemoryStorage):
    """``limits``' in-memory storage without its expiry timer thread.

    MemoryStorage starts a new ``threading.Timer`` on a hit whenever the last one has
    fired (10 ms after it started): under steady traffic that is a thread start every
    few requests, each costing more than the rest of the limiter and stalling the
    request that pays for it. A counter is dropped when read after its window anyway;
    only counters never read again linger, and they are purged here once a minute.
    """

    PURGE_SECONDS = 60.0

    def __init__(self, uri: str | None = None, **options: Any) -> None:
        super().__init__(uri, **options)
        self._next_purge = time.monotonic() + self.PURGE_SECONDS

    def _MemoryStorage__schedule_expiry(self) -> None:  # replaces the private timer start
        if time.monotonic() >= self._next_purge:
            self._next_purge = time.monotonic() + self.PURGE_SECONDS
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


def _storage(uri: str) -> Storage:
    if uri.startswith("memory://"):
        return QuietMemoryStorage()
    options = {"socket_connect_timeout": 1.0, "socket_timeout": 1.0} if uri.startswith("redis") else {}
    return storage_from_string(uri, wrap_exceptions=True, **options)


class RateLimiter:
    """Fixed-window counters (one per key and window: the cheapest per request) for a limit string."""

    def __init__(self, spec: str, storage_uri: str) -> None:
        self.limits: list[RateLimitItem] = parse_many(spec) if spec.strip() else []
        self.enabled = bool(self.limits)
        self.shared = FixedWindowRateLimiter(_storage(storage_uri))
        self.local = FixedWindowRateLimiter(QuietMemoryStorage())
        self._shared_down_until = 0.0

    def _strategy(self) -> FixedWindowRateLimiter:
        return self.local if time.monotonic() < self._shared_down_until else self.shared

    def hit(self, who: str) -> tuple[RateLimitItem, float] | None:
        """Count one call by ``who``; the limit it broke and when its window resets, or None."""
        for item in self.limits:
            strategy = self._strategy()
            try:
                allowed = strategy.hit(item, PREFIX, who)
                reset_at = 0.0 if allowed else strategy.get_window_stats(item, PREFIX, who).reset_time
            except StorageError:  # a storage outage must not turn checks into errors
                self._shared_down_until = time.monotonic() + REDIS_RETRY_SECONDS
                allowed = self.local.hit(item, PREFIX, who)
                reset_at = 0.0 if allowed else self.local.get_window_stats(item, PREFIX, who).reset_time
            if not allowed:
                return item, reset_at
        return None


def _refused(item: RateLimitItem, reset_at: float) -> Response:
    retry_after = max(1, math.ceil(reset_at - time.time()))
    message = f"Rate limit exceeded: {item}. Retry after {retry_after} s."
    return Response(
        message,
        429,
        mimetype="text/plain",
        headers={"Retry-After": str(retry_after), "X-akismet-debug-help": message},
    )


def init_app(app: Flask, blueprints: list[Blueprint]) -> RateLimiter:
    """Limit every route of ``blueprints`` to ``RATE_LIMIT`` per key (empty: no limit)."""
    limiter = RateLimiter(str(app.config["RATE_LIMIT"] or ""), str(app.config["RATE_LIMIT_STORAGE"]))
    app.extensions["spamfilter.limiter"] = limiter

    def check_limit() -> Response | None:
        if not limiter.enabled:
            return None
        refused = limiter.hit(rate_limit_key())
        return _refused(*refused) if refused else None

    for bp in blueprints:  # on the app, keyed by blueprint: the blueprints are shared by every app
        app.before_request_funcs.setdefault(bp.name, []).append(check_limit)
    return limiter
