"""What operators rely on: rate limits per key (in memory, or shared in Redis) and /metrics."""

from __future__ import annotations

import uuid
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from spamfilter import create_app
from spamfilter.keys import create_key


def _limited_app(tmp_path: Path, name: str, **config: object) -> Flask:
    return create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'limits.sqlite3'}",
            "LABEL_SPOOL": str(tmp_path / f"{name}.jsonl"),
            "RATE_LIMIT": "3/minute",
            **config,
        }
    )


def _form(key: str) -> dict[str, str]:
    return {"api_key": key, "blog": "https://blog.example", "user_ip": "198.51.100.4", "comment_content": "Nice."}


def test_rate_limit_is_per_key_and_answered_with_429(tmp_path: Path) -> None:
    app = _limited_app(tmp_path, "a")
    client = app.test_client()
    with app.extensions["spamfilter"].sessions() as session:
        first, second = create_key(session, ["*"]), create_key(session, ["*"])
    for _ in range(3):
        assert client.post("/1.1/comment-check", data=_form(first)).data == b"false"
    refused = client.post("/1.1/comment-check", data=_form(first))
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.data.startswith(b"Rate limit exceeded: 3 per 1 minute.")
    assert "X-akismet-guid" not in refused.headers  # not checked, not logged
    # Another key has its own budget, on either API; the key may come as a Bearer token.
    assert client.post("/1.1/comment-check", data=_form(second)).data == b"false"
    json_check = client.post(
        "/api/v1/check", json={k: v for k, v in _form(second).items() if k != "api_key"},
        headers={"Authorization": f"Bearer {second}"},
    )  # fmt: skip
    assert json_check.status_code == 200
    app.extensions["spamfilter.engine"].dispose()


def test_rate_limit_in_redis_holds_across_nodes(tmp_path: Path, redis_url: str) -> None:
    # Two apps on one database stand for two nodes; the prefix keeps this run's counters apart.
    storage = f"{redis_url}/0"
    node_a = _limited_app(tmp_path, "a", RATE_LIMIT_STORAGE=storage)
    node_b = _limited_app(tmp_path, "b", RATE_LIMIT_STORAGE=storage)
    with node_a.extensions["spamfilter"].sessions() as session:
        key = create_key(session, ["*"], label=uuid.uuid4().hex)  # a fresh key: fresh counters
    answers = [node.test_client().post("/1.1/comment-check", data=_form(key)).status_code
               for node in (node_a, node_b, node_a, node_b)]  # fmt: skip
    assert answers == [200, 200, 200, 429]
    for node in (node_a, node_b):
        node.extensions["spamfilter.engine"].dispose()


def test_metrics_count_requests_verdicts_and_model(app: Flask, client: FlaskClient, check_form: dict[str, str]) -> None:
    def sample(text: str, name: str, **labels: str) -> float:
        wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
        prefix = f"{name}{{{wanted}}}" if labels else name
        for line in text.splitlines():
            if line.startswith(prefix + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = client.get("/metrics").data.decode()
    client.post("/1.1/comment-check", data=check_form)
    client.post("/1.1/comment-check", data={**check_form, "comment_author": "viagra-test-123"})
    after = client.get("/metrics")
    assert after.status_code == 200 and after.mimetype == "text/plain"
    text = after.data.decode()
    endpoint = {"endpoint": "akismet.comment_check", "status": "200"}
    assert (
        sample(text, "spamfilter_requests_total", **endpoint) - sample(before, "spamfilter_requests_total", **endpoint)
        == 2
    )
    for verdict in ("ham", "spam"):
        assert sample(text, "spamfilter_verdicts_total", verdict=verdict) > sample(
            before, "spamfilter_verdicts_total", verdict=verdict
        )
    version = app.extensions["spamfilter"].models.model.version
    assert sample(text, "spamfilter_model_version_info", version=version) == 1
    assert "spamfilter_request_seconds_bucket" in text
