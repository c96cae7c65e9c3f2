"""POST /api/v1/check: the JSON check endpoint (score, verdict, model version, reasons)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from conftest import BLOG
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from spamfilter.db import ApiKey, Check
from spamfilter.keys import create_key, hash_key, revoke

GUID = re.compile(r"[0-9a-f]{32}")
HAM = "Small typo in the second paragraph: it should say their, not there. Otherwise a lovely write-up."
SPAM = {
    "comment_author": "seo expert",
    "comment_author_email": "seo@rank.example",
    "comment_author_url": "https://rank-top.example",
    "comment_content": (
        "Great post! I earn $5000 a week working from home, visit my site for free crypto casino bonus "
        "and cheap replica watches http://rank-top.example"
    ),
}



pytestmark = pytest.mark.usefixtures("shared_model")


@pytest.fixture
def comment(check_form: dict[str, str]) -> dict[str, Any]:
    """An ordinary comment that the model takes for ham, without the key."""
    return {k: v for k, v in check_form.items() if k != "api_key"} | {"comment_content": HAM}


def check(client: FlaskClient, body: Any, key: str | None = None) -> TestResponse:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.post("/api/v1/check", json=body, headers=headers)


def assert_result(resp: TestResponse) -> dict[str, Any]:
    assert resp.status_code == 200, resp.data
    assert resp.mimetype == "application/json"
    body = resp.get_json()
    assert GUID.fullmatch(body["guid"])
    assert isinstance(body["spam"], bool)
    assert body["verdict"] in ("spam", "ham", "discard")
    assert body["spam"] is (body["verdict"] != "ham")
    assert isinstance(body["score"], float)
    assert 0.0 <= body["score"] <= 1.0
    assert isinstance(body["threshold"], float)
    assert 0.0 < body["threshold"] < 1.0
    assert isinstance(body["model_version"], str)
    assert isinstance(body["reasons"], list)
    for reason in body["reasons"]:
        assert set(reason) == {"kind", "feature", "weight"}
        assert reason["kind"] in ("words", "chars", "author", "meta")
        assert isinstance(reason["feature"], str)
        assert isinstance(reason["weight"], (int, float))
    return body


def assert_json_error(resp: TestResponse, status: int) -> str:
    assert resp.status_code == status
    assert resp.mimetype == "application/json"
    body = resp.get_json()
    assert set(body) == {"error"}
    assert isinstance(body["error"], str)
    assert body["error"]
    return body["error"]


def logged(app: Flask) -> list[Check]:
    assert app.extensions["spamfilter"].log.flush()  # checks are logged in the background
    with app.extensions["spamfilter"].sessions() as session:
        return list(session.scalars(select(Check).order_by(Check.id)))


def test_check_with_bearer_key(app: Flask, client: FlaskClient, api_key: str, comment: dict[str, Any]) -> None:
    body = assert_result(check(client, comment, api_key))
    model = app.extensions["spamfilter"].models.model
    assert body["spam"] is False
    assert body["verdict"] == "ham"
    assert body["score"] < body["threshold"]
    assert body["threshold"] == model.threshold
    assert body["model_version"] == model.version
    assert 1 <= len(body["reasons"]) <= app.config["REASONS"]
    assert body["rule"] is None
    [row] = logged(app)
    assert (row.guid, row.verdict, row.site, row.content) == (body["guid"], "ham", "blog.example", HAM)
    assert row.model_version == model.version
    assert row.score == pytest.approx(body["score"], abs=1e-6)
    with app.extensions["spamfilter"].sessions() as session:
        assert session.get(ApiKey, row.key_id).key_hash == hash_key(api_key)
    # The scheme word is case-insensitive.
    resp = client.post("/api/v1/check", json=comment, headers={"Authorization": f"bearer {api_key}"})
    assert assert_result(resp)["guid"] != body["guid"]


def test_check_with_api_key_field(client: FlaskClient, api_key: str, comment: dict[str, Any]) -> None:
    body = assert_result(check(client, {**comment, "api_key": api_key, "comment_author": "viagra-test-123"}))
    assert (body["spam"], body["verdict"]) == (True, "spam")
    assert body["rule"] == "test trigger: comment_author"
    body = assert_result(check(client, {**comment, **SPAM, "api_key": api_key}))
    assert body["spam"] is True
    assert body["score"] >= body["threshold"]
    assert body["rule"] is None
    assert any(r["weight"] > 0 for r in body["reasons"])
    body = assert_result(check(client, {**comment, **SPAM, "user_role": "administrator"}, api_key))
    assert (body["spam"], body["verdict"], body["rule"]) == (False, "ham", "user_role=administrator")


def test_bad_key_is_401(app: Flask, client: FlaskClient, api_key: str, comment: dict[str, Any]) -> None:
    assert_json_error(check(client, comment, "unknown00000"), 401)
    assert_json_error(check(client, comment), 401)
    assert_json_error(check(client, {**comment, "api_key": "unknown00000"}), 401)
    assert_json_error(client.post("/api/v1/check", json=comment, headers={"Authorization": f"Basic {api_key}"}), 401)
    with app.extensions["spamfilter"].sessions() as session:
        revoke(session, session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_key(api_key))).one())
    assert_json_error(check(client, comment, api_key), 401)
    assert_json_error(check(client, {**comment, "api_key": api_key}), 401)
    assert logged(app) == []


def test_missing_fields_are_400(app: Flask, client: FlaskClient, api_key: str, comment: dict[str, Any]) -> None:
    no_ip = {k: v for k, v in comment.items() if k != "user_ip"}
    assert assert_json_error(check(client, no_ip, api_key), 400) == "Missing required field: user_ip."
    assert assert_json_error(check(client, {**comment, "user_ip": " "}, api_key), 400).endswith("user_ip.")
    assert assert_json_error(check(client, {**comment, "blog": ""}, api_key), 400) == "Missing required field: blog."
    assert logged(app) == []


def test_non_json_body_is_400(app: Flask, client: FlaskClient, api_key: str, comment: dict[str, Any]) -> None:
    auth = {"Authorization": f"Bearer {api_key}"}
    for data, content_type in (
        (b"{not json", "application/json"),
        (b"", "application/json"),
        (b"null", "application/json"),
        (b"api_key=x&blog=y&user_ip=z", "application/x-www-form-urlencoded"),
        (b'{"blog": "https://blog.example", "user_ip": "192.0.2.1"}', "text/plain"),
    ):
        resp = client.post("/api/v1/check", data=data, content_type=content_type, headers=auth)
        assert_json_error(resp, 400)
    for body in ("a string", 42, [], [comment] * (app.config["MAX_BATCH"] + 1)):
        assert_json_error(check(client, body, api_key), 400)
    assert logged(app) == []


def test_site_not_allowed_is_403(app: Flask, client: FlaskClient, api_key: str, comment: dict[str, Any]) -> None:
    assert_json_error(check(client, {**comment, "blog": "https://other.example"}, api_key), 403)
    assert_json_error(check(client, {**comment, "blog": "https://[::1"}, api_key), 400)  # not a URL
    assert logged(app) == []
    with app.extensions["spamfilter"].sessions() as session:
        anywhere = create_key(session, ["*"])
    assert assert_result(check(client, {**comment, "blog": "https://other.example"}, anywhere))["verdict"] == "ham"
    # Subfolders of an allowed site are allowed.
    assert assert_result(check(client, {**comment, "blog": f"{BLOG}/de/"}, api_key))["verdict"] == "ham"


def test_field_types(app: Flask, client: FlaskClient, api_key: str, comment: dict[str, Any]) -> None:
    body = {
        **comment,
        "comment_context": ["baking", "bread", 7],
        "is_test": True,
        "comment_parent": 12,
        "honeypot_field_name": "hp",
        "hp": "",
        "extra": {"nested": "ignored"},
        "other": ["ignored"],
        "comment_author_url": None,
    }
    result = assert_result(check(client, body, api_key))
    assert result["verdict"] == "ham"
    assert assert_result(check(client, {**comment, "comment_context": "baking"}, api_key))["verdict"] == "ham"
    honeypot = assert_result(check(client, {**comment, "honeypot_field_name": "hp", "hp": "x"}, api_key))
    assert (honeypot["verdict"], honeypot["rule"]) == ("spam", "honeypot field filled")
    rows = logged(app)
    assert [r.is_test for r in rows] == [True, False, False]
    assert rows[0].guid == result["guid"]


def test_nul_characters(app: Flask, client: FlaskClient, api_key: str, comment: dict[str, Any]) -> None:
    body = assert_result(check(client, {**comment, "comment_author": "Da\u0000na"}, api_key))
    [row] = logged(app)
    assert row.guid == body["guid"]
    assert row.author == "Dana"


def test_lone_surrogate_is_not_a_server_error(
    app: Flask, client: FlaskClient, api_key: str, comment: dict[str, Any]
) -> None:
    data = json.dumps({**comment, "comment_content": "broken \ud800 text"})  # ensure_ascii: "\\ud800"
    resp = client.post(
        "/api/v1/check", data=data, content_type="application/json", headers={"Authorization": f"Bearer {api_key}"}
    )
    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    [row] = logged(app)
    assert row.content == "broken ? text"  # the unencodable half-character replaced, the rest kept


def test_batch_answers_each_item_in_order(
    app: Flask, client: FlaskClient, api_key: str, comment: dict[str, Any]
) -> None:
    spam = {**comment, "comment_content": "Cheap replica watches, 90% off, order now: https://watch-deals.example"}
    batch = [comment, spam, {**comment, "user_ip": ""}, "not an object", {**comment, "blog": "https://other.example"}]
    resp = check(client, batch, api_key)
    assert resp.status_code == 200
    body = resp.get_json()
    first, second, missing_ip, not_object, other_site = body["results"]
    assert body["model_version"] == first["model_version"]
    # Scores are those a single check gives.
    assert first["score"] == assert_result(check(client, comment, api_key))["score"]
    assert second["score"] == assert_result(check(client, spam, api_key))["score"]
    assert second["score"] > first["score"]
    assert missing_ip == {"error": "Missing required field: user_ip.", "status": 400}
    assert not_object["status"] == 400
    assert other_site["status"] == 403
    assert [r.guid for r in logged(app)][:2] == [first["guid"], second["guid"]]  # only valid items are logged


def test_batch_needs_a_key(client: FlaskClient, comment: dict[str, Any]) -> None:
    assert_json_error(check(client, [comment, comment]), 401)
