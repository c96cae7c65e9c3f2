"""When the database goes away, checks keep answering and no label is lost.

The outage is real, not a mock: on PostgreSQL the test database stops accepting
connections (and its sessions are terminated); on SQLite the database file is
moved away, so new connections find an empty database without the tables.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from conftest import BLOG
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from spamfilter.db import Check, Label


@contextmanager
def database_outage(app: Flask) -> Iterator[None]:
    engine = app.extensions["spamfilter.engine"]
    url = make_url(app.config["DATABASE_URL"])
    engine.dispose()
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        moved = [(p, p.with_name(p.name + ".away")) for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"))]
        for src, dst in moved:
            if src.exists():
                os.replace(src, dst)
        try:
            yield
        finally:
            engine.dispose()
            for src, dst in moved:
                src.unlink(missing_ok=True)
                if dst.exists():
                    os.replace(dst, src)
        return
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = url.database
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false'))
        conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
    try:
        yield
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))
        admin.dispose()
        engine.dispose()


def test_checks_answer_and_labels_survive_a_database_outage(
    app: Flask, client: FlaskClient, check_form: dict[str, str]
) -> None:
    service = app.extensions["spamfilter"]
    assert client.post("/1.1/comment-check", data=check_form).data == b"false"  # the key is now known

    spam = {**check_form, "comment_content": "Best casino bonus 500 free spins >> https://spin-win.example/claim"}
    with database_outage(app):
        response = client.post("/1.1/comment-check", data=spam)
        assert response.status_code == 200 and response.data in (b"true", b"false")
        guid = response.headers["X-akismet-guid"]
        assert client.post("/1.1/submit-spam", data={**spam, "guid": guid}).data == (
            b"Thanks for making the web a better place."
        )
        health = client.get("/healthz").json
        assert health["status"] == "degraded" and health["database"].startswith("error")
        assert health["labels_spooled"] == 1
        # What needs the database says so plainly instead of failing with a 500.
        assert client.get(f"/1.2/usage-limit?api_key={check_form['api_key']}").status_code == 503

    assert service.spool.replay() == 1
    assert service.log.flush(timeout=40)  # the writer retries with back-off
    with service.sessions() as session:
        assert session.scalars(select(Check.guid).where(Check.guid == guid)).one() == guid
        [label] = session.scalars(select(Label)).all()
    assert (label.label, label.check_guid, label.site) == ("spam", guid, "blog.example")
    assert service.spool.pending() == 0
    # Ready again once the model registry has been polled successfully (every MODEL_POLL_SECONDS).
    deadline = time.monotonic() + 10
    while (health := client.get("/healthz").json)["status"] != "ok" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert health["status"] == "ok", health


def test_an_unknown_key_during_an_outage_is_a_clear_503(app: Flask, client: FlaskClient) -> None:
    with database_outage(app):
        response = client.post("/1.1/verify-key", data={"key": "neverseen000", "blog": BLOG})
    assert response.status_code == 503
    assert response.data == b"The database is unavailable; try again shortly."
