"""Shared fixtures: an app on a fresh database with the shipped model, a client, a key.

Every test that uses ``app`` runs twice: on an SQLite file, and on PostgreSQL at
127.0.0.1:5432 (user postgres) when one is reachable (skipped with the reason
otherwise). Set SPAMFILTER_TEST_POSTGRES to another server URL to use that. Tests that
need Redis (127.0.0.1:6379, or SPAMFILTER_TEST_REDIS) take ``redis_url``, skipped with the
reason when it is away.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from spamfilter import create_app
from spamfilter import model as model_io
from spamfilter.db import Base
from spamfilter.keys import create_key
from spamfilter.model import Model

BLOG = "https://blog.example"
POSTGRES = os.environ.get("SPAMFILTER_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("SPAMFILTER_TEST_REDIS", "redis://127.0.0.1:6379")


def _postgres_error() -> str | None:
    try:
        engine = create_engine(POSTGRES, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL not reachable at {POSTGRES}: {exc.__class__.__name__}"
    return None


@contextlib.contextmanager
def _fresh_postgres_database() -> Iterator[str]:
    """Create an empty database on POSTGRES (skip with the reason when it is unreachable); drop it after."""
    error = _postgres_error()
    if error:
        pytest.skip(error)
    name = f"spamfilter_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    with _fresh_postgres_database() as url:
        yield url


@pytest.fixture(scope="module")
def module_postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one module (e.g. for servers that share it), dropped after it."""
    with _fresh_postgres_database() as url:
        yield url


def _redis_error() -> str | None:
    try:
        import redis

        redis.Redis.from_url(REDIS, socket_connect_timeout=2).ping()
    except Exception as exc:
        return f"Redis not reachable at {REDIS}: {exc.__class__.__name__}"
    return None


@pytest.fixture(scope="session")
def redis_url() -> str:
    """Redis for shared rate limits; skipped with the reason when it is unreachable."""
    error = _redis_error()
    if error:
        pytest.skip(error)
    return REDIS


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite3'}"
    url: str = request.getfixturevalue("postgres_url")
    engine = create_engine(url)
    with engine.begin() as conn:  # each test starts empty; the schema stays
        tables = [t.name for t in Base.metadata.sorted_tables if t.name in set(conn.dialect.get_table_names(conn))]
        if tables:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "LABEL_SPOOL": str(tmp_path / "spool.jsonl"),
            # Keys are looked up on every request, so a test that revokes one sees it at once
            # (the cache still answers when the database is away: tests/test_faults.py).
            "KEY_CACHE_SECONDS": 0,
            "RATE_LIMIT": "",  # tests/test_operations.py covers limits
        }
    )
    yield app
    # Checks are logged by a background thread: write them now, or they could land in the
    # next test's freshly emptied database.
    assert app.extensions["spamfilter"].log.flush(timeout=30), "the check log did not drain"
    app.extensions["spamfilter.engine"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def api_key(app: Flask) -> str:
    with app.extensions["spamfilter"].sessions() as session:
        return create_key(session, [BLOG], label="test")


@pytest.fixture
def check_form(api_key: str) -> dict[str, str]:
    """A complete, ordinary comment-check form."""
    return {
        "api_key": api_key,
        "blog": BLOG,
        "user_ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
        "referrer": "https://blog.example/2026/11/hello",
        "permalink": "https://blog.example/2026/11/hello",
        "comment_type": "comment",
        "comment_author": "Dana",
        "comment_author_email": "dana@example.org",
        "comment_content": "Thanks, the part about indexes finally made it click for me.",
    }


_MODELS: dict[tuple[Path, int, int], Model] = {}
_load_model = model_io.load


@pytest.fixture
def shared_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each app loads the shipped model (~0.4 s); route tests that ask for this share one copy (read-only).

    Not for tests of loading itself: a cached model skips the file's checks.
    """

    def load(path: Path) -> Model:
        stat = Path(path).stat()
        ident = (Path(path).resolve(), stat.st_mtime_ns, stat.st_size)
        if ident not in _MODELS:
            _MODELS[ident] = _load_model(path)
        return _MODELS[ident]

    monkeypatch.setattr(model_io, "load", load)
