"""Past one machine: two server nodes that share nothing but PostgreSQL and Redis.

Node A and node B are separate ``serve.py`` processes (gunicorn, 2 workers each) on
their own ports, each with its own temporary folder and label spool; what one of
them learns reaches the other only through the database (keys, check log, labels,
model registry) and Redis (rate limits). ``train.py`` runs as a third process, as
cron would on one machine. (They share this checkout's instance folder, but with
the settings below nothing in it is read: the secret key, the spool and the
training lock are elsewhere.) The tests run in order and build on each other's
state; they are skipped, with the reason, when PostgreSQL or Redis is not reachable.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from servers import (
    BLOG,
    REPO,
    Server,
    check,
    comment_form,
    running_server,
    server_env,
    steady_traffic,
    submit,
    train,
    wait_for_model,
)
from sqlalchemy import Engine, create_engine, func, select
from test_retraining import CAMPAIGN, PROBE

from spamfilter.config import DEFAULT_MODEL_PATH
from spamfilter.db import Check, Label
from spamfilter.model import metadata_path

pytestmark = pytest.mark.slow

SHIPPED = json.loads(metadata_path(DEFAULT_MODEL_PATH).read_text())["version"]
POLL_SECONDS = 1  # each server process looks for a newly promoted model this often
PROMOTED_WITHIN = 10.0  # seconds for every node to serve a promoted version


@pytest.fixture(scope="module")
def node_env(
    module_postgres_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, dict[str, str]]]:
    """Settings of nodes "a" to "e" ("c" runs train.py): one database, one Redis, nothing else shared."""
    secret = secrets.token_hex(16)  # the review page's cookies must be good on every node

    def env(name: str) -> dict[str, str]:
        folder = tmp_path_factory.mktemp(f"node-{name}")
        return server_env(
            module_postgres_url,
            SPAMFILTER_RATE_LIMIT_STORAGE=redis_url,
            SPAMFILTER_MODEL_POLL_SECONDS=str(POLL_SECONDS),
            SPAMFILTER_LABEL_SPOOL=str(folder / "label-spool.jsonl"),
            SPAMFILTER_SECRET_KEY=secret,
            SPAMFILTER_SESSION_COOKIE_SECURE="false",  # the review page over plain http
            TMPDIR=str(folder),
        )

    yield {name: env(name) for name in "abcde"}


@pytest.fixture(scope="module")
def db(module_postgres_url: str) -> Iterator[Engine]:
    engine = create_engine(module_postgres_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def printed(node_env: dict[str, dict[str, str]]) -> Iterator[dict[str, Server]]:
    """Nodes A and B as started (A first, on the empty database), with the key each printed, if any."""
    with running_server(Path(node_env["a"]["TMPDIR"]), node_env["a"]) as a:
        with running_server(Path(node_env["b"]["TMPDIR"]), node_env["b"]) as b:
            yield {"a": a, "b": b}


@pytest.fixture(scope="module")
def a(printed: dict[str, Server]) -> Server:
    return printed["a"]


@pytest.fixture(scope="module")
def b(printed: dict[str, Server]) -> Server:
    """Node B, calling with the key node A made."""
    return replace(printed["b"], key=printed["a"].key)


def flask(env: dict[str, str], *args: str, stdin: str = "") -> str:
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "spamfilter", *args],
        cwd=REPO,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


def wait_for_check(db: Engine, guid: str) -> None:
    """Until the node that made check ``guid`` has logged it (in the background, within ~0.1 s)."""
    deadline = time.monotonic() + 5
    with db.connect() as conn:
        while conn.scalar(select(func.count(Check.id)).where(Check.guid == guid)) != 1:
            assert time.monotonic() < deadline, f"check {guid} was never logged"
            time.sleep(0.1)
            conn.rollback()


def wait_everywhere(version: str, *nodes: Server) -> None:
    """Until every worker of ``nodes`` serves ``version``: within PROMOTED_WITHIN seconds of the change."""
    changed = time.monotonic()
    for node in nodes:
        wait_for_model(node, version, PROMOTED_WITHIN - (time.monotonic() - changed), POLL_SECONDS)


def answers(node: Server, text: str, times: int = 8) -> set[tuple[str, bytes]]:
    """The (model version, verdict) pairs that ``times`` checks of ``text`` got (spread over the workers)."""
    return {(r.headers["X-spamfilter-model"], r.content) for r in (check(node, text) for _ in range(times))}


def csrf_token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def verify_key(server: Server, key: str) -> str:
    return httpx.post(f"{server.url}/1.1/verify-key", data={"key": key, "blog": BLOG}, timeout=10).text


def test_keys_made_anywhere_work_on_every_node(
    printed: dict[str, Server], a: Server, b: Server, node_env: dict[str, dict[str, str]]
) -> None:
    # A started on the empty database and made a key; B found it there and made none.
    assert a.key and printed["b"].key is None, printed["b"].output()
    assert [verify_key(node, a.key) for node in (a, b)] == ["valid", "valid"]
    # A key made on a third machine with the CLI works on both; revoked there, on neither.
    made = flask(node_env["c"], "keys", "create", "--site", BLOG, "--label", "node c")
    assert [verify_key(node, made) for node in (a, b)] == ["valid", "valid"]
    flask(node_env["c"], "keys", "revoke", made)
    assert [verify_key(node, made) for node in (a, b)] == ["invalid", "invalid"]


def test_a_label_sent_to_node_b_is_matched_to_the_check_on_node_a(a: Server, b: Server, db: Engine) -> None:
    # The campaign's first comment (more labels than the campaign's would change what the retraining learns).
    comment = CAMPAIGN[0]
    guid = check(a, comment).headers["X-akismet-guid"]
    # At once, as a client that flags what it just checked would: A may not have logged the check
    # yet (it writes in the background), and B waits for it. The moderator's client sends the
    # guid back, with the comment as edited since: B finds A's check.
    submit(b, "spam", comment + " [edited]", guid)
    with db.connect() as conn:
        labels = conn.execute(select(Label.label, Label.content).where(Label.check_guid == guid)).all()
    assert labels == [("spam", comment)]  # one label, stored as the comment was checked on A


def test_labels_sent_to_node_a_retrain_the_model_both_nodes_serve(
    a: Server, b: Server, node_env: dict[str, dict[str, str]], db: Engine
) -> None:
    before = [check(node, PROBE) for node in (a, b)]
    assert [r.content for r in before] == [b"false", b"false"], "the probe must start as a miss on both nodes"
    assert [r.headers["X-spamfilter-model"] for r in before] == [SHIPPED, SHIPPED]

    for text in CAMPAIGN:  # checked on B, flagged through A (the first one again: still one label)
        submit(a, "spam", text, check(b, text).headers["X-akismet-guid"])
    with db.connect() as conn:
        assert conn.scalar(select(func.count(Label.id))) == len(CAMPAIGN)

    # train.py on a third machine; requests keep flowing to both nodes through the swap.
    with steady_traffic(a, b) as traffic:
        out = train(node_env["c"], "--min-new-labels", "20")
        assert "promoted" in out, out
        wait_everywhere("1", a, b)
    assert traffic.failures == []
    for node in (a, b):  # the traffic reached both nodes while train.py ran
        assert SHIPPED in traffic.served[node.url] and traffic.served[node.url] <= {SHIPPED, "1"}, traffic.served

    # Every worker of both nodes now answers with the new version, and the probe is caught.
    assert [answers(node, PROBE) for node in (a, b)] == [{("1", b"true")}] * 2


def test_a_moderator_signed_in_on_node_a_labels_on_node_b(
    a: Server, b: Server, node_env: dict[str, dict[str, str]], db: Engine
) -> None:
    password = secrets.token_urlsafe(12)
    flask(node_env["c"], "moderators", "create", "mia", "--password-stdin", stdin=password + "\n")
    guid = check(a, "Is the Velvet Thistle Society still taking members?").headers["X-akismet-guid"]
    wait_for_check(db, guid)
    # One cookie jar for both nodes, as behind a load balancer (cookies ignore the port).
    with httpx.Client(timeout=10) as browser:
        token = csrf_token(browser.get(f"{a.url}/moderate/login").text)
        signed_in = browser.post(
            f"{a.url}/moderate/login", data={"csrf_token": token, "name": "mia", "password": password}
        )
        assert signed_in.status_code == 302, signed_in.text
        page = browser.get(f"{b.url}/moderate/")  # not sent back to the login page: B trusts A's cookie
        assert page.status_code == 200 and f'id="check-{guid}"' in page.text, page.text
        form = {"csrf_token": csrf_token(page.text), "action": f"ham:{guid}"}
        assert browser.post(f"{b.url}/moderate/label", data=form).status_code == 302
    with db.connect() as conn:
        labels = conn.execute(select(Label.label, Label.source).where(Label.check_guid == guid)).all()
    assert labels == [("ham", "review page")]


@pytest.fixture(scope="module")
def limited(node_env: dict[str, dict[str, str]]) -> Iterator[list[Server]]:
    """Two more nodes (D and E), limited to 3 calls a minute per key, counted in the shared Redis.

    Apart from A and B, whose key drives far more traffic than any limit a test can wait out.
    """
    envs = [{**node_env[name], "SPAMFILTER_RATE_LIMIT": "3/minute"} for name in "de"]
    with running_server(Path(envs[0]["TMPDIR"]), envs[0], workers=1) as d:
        with running_server(Path(envs[1]["TMPDIR"]), envs[1], workers=1) as e:
            yield [d, e]


def test_rate_limits_are_counted_across_nodes(limited: list[Server], node_env: dict[str, dict[str, str]]) -> None:
    d, e = limited
    key = flask(node_env["c"], "keys", "create", "--site", BLOG)  # new in this run: its counter starts at 0
    form = {**comment_form(d, "Nice roses."), "api_key": key}
    answers = [httpx.post(f"{node.url}/1.1/comment-check", data=form, timeout=10) for node in (d, e, d, e, d)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429, 429]
    assert int(answers[3].headers["Retry-After"]) >= 1
    # Nodes that join later serve the promoted version from the start, not the shipped file.
    assert {r.headers["X-spamfilter-model"] for r in answers[:3]} == {"1"}


def test_a_rollback_anywhere_is_served_by_every_node(a: Server, b: Server, node_env: dict[str, dict[str, str]]) -> None:
    assert "now serving the shipped model (was 1)" in train(node_env["b"], "--rollback")
    wait_everywhere(SHIPPED, a, b)
    assert [answers(node, PROBE) for node in (a, b)] == [{(SHIPPED, b"false")}] * 2
    assert "now serving version 1 (was shipped)" in train(node_env["a"], "--rollback", "1")
    wait_everywhere("1", a, b)
    assert [answers(node, PROBE) for node in (a, b)] == [{("1", b"true")}] * 2
