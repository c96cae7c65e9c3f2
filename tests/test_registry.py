"""Model versions in the database: hot swap, rollback, and refusing a bad version."""

from __future__ import annotations

import json

from flask import Flask
from flask.testing import FlaskClient

from spamfilter import registry
from spamfilter.config import DEFAULT_MODEL_PATH
from spamfilter.model import metadata_path


def _shipped() -> tuple[bytes, dict[str, object]]:
    return DEFAULT_MODEL_PATH.read_bytes(), json.loads(metadata_path(DEFAULT_MODEL_PATH).read_text())


def _publish(app: Flask, data: bytes, metadata: dict[str, object], promote: bool = True) -> int:
    with app.extensions["spamfilter"].sessions() as session:
        return registry.publish(session, data, metadata, promote, "test")


def test_promoted_version_is_served_without_restart(
    app: Flask, client: FlaskClient, check_form: dict[str, str]
) -> None:
    models = app.extensions["spamfilter"].models
    models.poll_seconds = 0
    shipped_version = models.model.version
    data, metadata = _shipped()
    version = _publish(app, data, metadata)
    response = client.post("/1.1/comment-check", data=check_form)
    assert response.headers["X-spamfilter-model"] == str(version) != shipped_version
    assert app.extensions["spamfilter"].log.flush()  # the check above is logged in the background
    assert client.get("/healthz").json == {
        "status": "ok",
        "model_version": str(version),
        "database": "ok",
        "checks_pending": 0,
        "labels_spooled": 0,
    }

    with app.extensions["spamfilter"].sessions() as session:
        registry.set_current(session, None, "rollback")
        session.commit()
    assert client.post("/1.1/comment-check", data=check_form).headers["X-spamfilter-model"] == shipped_version


def test_bad_version_keeps_last_good_model(app: Flask, client: FlaskClient, check_form: dict[str, str]) -> None:
    models = app.extensions["spamfilter"].models
    models.poll_seconds = 0
    good = models.model.version
    data, metadata = _shipped()
    bad = _publish(app, data[:-10] + b"0123456789", metadata)  # bytes no longer match the checksum
    response = client.post("/1.1/comment-check", data=check_form)
    assert response.status_code == 200 and response.data in (b"true", b"false")
    assert response.headers["X-spamfilter-model"] == good
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json["status"] == "degraded" and "sha256" in health.json["model_error"]
    assert health.json["model_version"] == good
    assert models._failed == bad


def test_versions_are_numbered_and_listed_newest_first(app: Flask) -> None:
    data, metadata = _shipped()
    first = _publish(app, data, metadata, promote=False)
    second = _publish(app, data, {**metadata, "parent": first})
    with app.extensions["spamfilter"].sessions() as session:
        rows = registry.versions(session)
        assert [r.version for r in rows] == [second, first] == [2, 1]
        assert rows[0].info["parent"] == 1 and rows[0].info["registry_version"] == 2
        assert registry.current_version(session) == 2
