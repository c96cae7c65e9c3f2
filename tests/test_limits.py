"""The rate limiter itself: fixed windows per caller, no thread per hit, memory when Redis is away."""

from __future__ import annotations

import threading
import time

import pytest

from spamfilter.limits import RateLimiter


def test_window_counts_per_caller_and_resets() -> None:
    limiter = RateLimiter("2/second", "memory://")
    assert limiter.hit("key:a") is None
    assert limiter.hit("key:a") is None
    refused = limiter.hit("key:a")
    assert refused is not None
    item, reset_at = refused
    assert str(item) == "2 per 1 second"
    assert time.time() < reset_at <= time.time() + 1.01
    assert limiter.hit("key:b") is None  # another caller has its own budget
    time.sleep(max(0.0, reset_at - time.time()) + 0.05)
    assert limiter.hit("key:a") is None  # a new window


def test_every_limit_of_a_list_counts() -> None:
    limiter = RateLimiter("100/second;3/minute", "memory://")
    assert [limiter.hit("key:a") is None for _ in range(4)] == [True, True, True, False]
    assert str(limiter.hit("key:a")[0]) == "3 per 1 minute"  # type: ignore[index]


def test_an_empty_limit_is_off() -> None:
    assert not RateLimiter("", "memory://").enabled
    assert RateLimiter(" 5/second ", "memory://").enabled


def test_hits_start_no_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """limits' MemoryStorage starts a Timer thread per hit once 10 ms have passed; ours must not."""
    limiter = RateLimiter("1000/second", "memory://")
    started: list[threading.Thread] = []
    real_start = threading.Thread.start

    def counting_start(thread: threading.Thread) -> None:
        started.append(thread)
        real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", counting_start)
    for _ in range(5):
        assert limiter.hit("key:a") is None
        time.sleep(0.02)
    assert started == []


def test_unreachable_redis_falls_back_to_memory() -> None:
    limiter = RateLimiter("2/minute", "redis://127.0.0.1:1")  # nothing listens on port 1
    assert limiter.hit("key:a") is None
    assert limiter.hit("key:a") is None
    assert limiter.hit("key:a") is not None  # still limited, counted in memory
