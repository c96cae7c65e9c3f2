"""The real ``akismet`` client from PyPI against the real server (serve.py, gunicorn).

The client always talks to https://rest.akismet.com; an httpx transport sends its
requests to the local server instead, the way an operator would re-point it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import akismet
import httpx
import pytest
from servers import Server, ToServer, running_server, server_env

BLOG = "https://blog.example"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp: Path = tmp_path_factory.mktemp("server")
    with running_server(tmp, server_env(f"sqlite:///{tmp / 'spamfilter.sqlite3'}")) as server:
        assert server.key, f"serve.py did not print the key it created on first start:\n{server.output()}"
        yield server


@pytest.fixture
def client(server: Server) -> Iterator[akismet.SyncClient]:
    http = httpx.Client(transport=ToServer(server.url), timeout=10)
    with akismet.SyncClient(config=akismet.Config(key=server.key, url=BLOG), http_client=http) as c:
        yield c


COMMENT = {
    "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Gecko/20100101 Firefox/131.0",
    "referrer": f"{BLOG}/2026/11/sourdough-starter",
    "permalink": f"{BLOG}/2026/11/sourdough-starter",
    "comment_type": "comment",
}


def test_verify_key(server: Server, client: akismet.SyncClient) -> None:
    assert client.verify_key() is True
    assert client.verify_key(key="zzzzzzzzzzzz", url=BLOG) is False
    http = httpx.Client(transport=ToServer(server.url), timeout=10)
    with pytest.raises(akismet.APIKeyError):
        akismet.SyncClient.validated_client(config=akismet.Config(key="notakey12345", url=BLOG), http_client=http)


def test_spam_check(client: akismet.SyncClient) -> None:
    result = client.comment_check(
        user_ip="198.51.100.23",
        comment_author="Cheap Meds Online",
        comment_author_email="sales4455@pharma-deals.example",
        comment_author_url="https://cheap-meds-online.xyz",
        comment_content=(
            "Buy viagra, cialis and tramadol online without prescription! Lowest prices, "
            "discreet overnight shipping: <a href='https://cheap-meds-online.xyz'>cheap pills</a>"
        ),
        **COMMENT,
    )
    assert result in (akismet.CheckResponse.SPAM, akismet.CheckResponse.DISCARD)
    assert client.comment_check(user_ip="198.51.100.23", comment_author="viagra-test-123", **COMMENT) in (
        akismet.CheckResponse.SPAM,
        akismet.CheckResponse.DISCARD,
    )


def test_ham_check(client: akismet.SyncClient) -> None:
    result = client.comment_check(
        user_ip="203.0.113.40",
        comment_author="Margit",
        comment_author_email="margit@example.org",
        comment_content=(
            "I tried your method with rye flour instead of wheat and the starter doubled in six hours. "
            "Did you feed it once or twice a day in the first week?"
        ),
        **COMMENT,
    )
    assert result == akismet.CheckResponse.HAM
    assert client.comment_check(user_ip="203.0.113.40", user_role="administrator", is_test=True, **COMMENT) == (
        akismet.CheckResponse.HAM
    )


def test_submissions(client: akismet.SyncClient) -> None:
    fields = {"comment_author": "Lee", "comment_content": "Where can I get the template you used?", **COMMENT}
    assert client.submit_spam(user_ip="192.0.2.9", **fields) is True
    assert client.submit_ham(user_ip="192.0.2.9", **fields) is True


def test_usage_limit(client: akismet.SyncClient) -> None:
    usage = client.usage_limit()
    assert usage["limit"] == "none"
    assert isinstance(usage["usage"], int) and usage["usage"] >= 0
    assert re.fullmatch(r"\d+\.\d\d", usage["percentage"])
    assert usage["throttled"] is False


def test_health_and_metrics_add_up_over_workers(server: Server, client: akismet.SyncClient) -> None:
    for i in range(20):  # spread over both gunicorn workers
        client.comment_check(user_ip=f"198.51.100.{i}", comment_content=f"Lovely photo number {i}!", **COMMENT)
    with httpx.Client(base_url=server.url, timeout=10) as http:
        health = http.get("/healthz").json()
        metrics = http.get("/metrics").text
    assert health["status"] == "ok" and health["database"] == "ok"
    verdicts = sum(
        float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines() if line.startswith("spamfilter_verdicts_total{")
    )
    assert verdicts >= 20  # every worker's checks, whichever worker answered /metrics
    served = [line for line in metrics.splitlines() if line.startswith("spamfilter_model_version_info{")]
    assert served and all(f'version="{health["model_version"]}"' in line for line in served if line.endswith(" 1.0"))
