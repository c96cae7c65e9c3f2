"""Moderator feedback closes the loop: labels -> retrain -> gate -> hot swap, with no downtime.

One real server (gunicorn, 2 workers) and one SQLite database serve the whole module;
the tests run in order and build on each other's state.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import REPO, Server, check, running_server, server_env, steady_traffic, submit, train, wait_for_model
from sqlalchemy import create_engine, func, select

from spamfilter.db import Label, ModelCurrent

# A campaign the shipped model has never seen: friendly, on-topic, link-free invitations
# to a paid "club" -- spam on this gardening site, and only its moderators know it.
OPENERS = [
    "Lovely roses!",
    "What a tidy vegetable bed.",
    "Great tips on mulching.",
    "Your dahlias look amazing.",
    "Such a helpful post about compost.",
    "Beautiful hydrangeas this year.",
    "Nice work on the raised beds.",
]
PITCHES = [
    "Members of the Velvet Thistle Society get seeds posted monthly",
    "the Velvet Thistle Society sends its members rare bulbs every season",
    "join the Velvet Thistle Society and receive heirloom seed parcels",
    "Velvet Thistle Society members swap cuttings and get a monthly seed box",
]
CLOSERS = [
    "for only 9 pounds a month.",
    "- message the society secretary to enrol.",
    "and the first parcel is half price.",
    "- ask for the membership form today.",
]
CAMPAIGN = [f"{o} {p} {c}" for o, p, c in itertools.product(OPENERS, PITCHES, CLOSERS)]
PROBE = "Gorgeous tulips! The Velvet Thistle Society posts members a seed box every month - enrol via the secretary."

# An attacker with a key marks spam of every common kind as ham, to teach the filter to
# let it through. Its own held-out labels then flatter the poisoned model; the corpora
# part of the evaluation slice, which no label can touch, shows the damage.
POISON = [
    f"{pitch} {call}"
    for pitch, call in itertools.product(
        [
            "Check out my new channel and subscribe",
            "Congratulations! You have won a 1000 cash prize",
            "I made $5,000 in a week with an expert crypto trader",
            "Buy cheap viagra and cialis online",
            "Best online casino bonus, 200 free spins",
            "Payday loans approved in minutes",
            "Earn money from home, no experience needed",
            "Free iPhone giveaway for the first 100 people",
        ],
        [
            "- visit www.best-deals-now.xyz",
            "- call 0800 555 0199 to claim now",
            "- message her on WhatsApp +1 555 0100",
            "- click http://win-big-today.top",
            "- text WIN to 80082",
            "!!! limited offer, act now",
            "at http://cheap-stuff.site, free shipping",
            "- DM me for details",
        ],
    )
]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("retrain")
    return server_env(
        f"sqlite:///{tmp / 'spamfilter.sqlite3'}",
        SPAMFILTER_MODEL_POLL_SECONDS="1",
        TMPDIR=str(tmp),
    )


@pytest.fixture(scope="module")
def server(env: dict[str, str]) -> Iterator[Server]:
    with running_server(Path(env["TMPDIR"]), env) as server:
        assert server.key
        yield server


def current_version(env: dict[str, str]) -> int | None:
    engine = create_engine(env["SPAMFILTER_DATABASE_URL"])
    with engine.connect() as conn:
        version = conn.scalar(select(ModelCurrent.version))
    engine.dispose()
    return version


def label_count(env: dict[str, str]) -> int:
    engine = create_engine(env["SPAMFILTER_DATABASE_URL"])
    with engine.connect() as conn:
        count = conn.scalar(select(func.count(Label.id)))
    engine.dispose()
    return int(count or 0)


def test_feedback_round_trip_changes_the_verdict(server: Server, env: dict[str, str]) -> None:
    before = check(server, PROBE)
    assert before.content == b"false", "the probe must start as a miss for this test to mean anything"
    shipped = before.headers["X-spamfilter-model"]

    for text in CAMPAIGN:  # moderators flag each missed comment, echoing the check's guid
        guid = check(server, text).headers["X-akismet-guid"]
        submit(server, "spam", text, guid)

    # Requests keep flowing while the model is swapped: none may fail.
    with steady_traffic(server) as traffic:
        out = train(env, "--min-new-labels", "20")
        assert "promoted" in out, out
        wait_for_model(server, "1")
    assert traffic.failures == []

    after = check(server, PROBE)
    assert after.headers["X-spamfilter-model"] == "1" != shipped
    assert after.content == b"true", out
    assert "shipped" in train(env, "--list")


def test_too_few_new_labels_skips(env: dict[str, str]) -> None:
    out = train(env)
    assert out.startswith("skipped: 0 new labels"), out


def test_poisoned_labels_are_rejected(server: Server, env: dict[str, str]) -> None:
    for text in POISON:  # an attacker with a key marks blatant spam as ham
        submit(server, "ham", text)
    out = train(env, "--min-new-labels", "20")
    assert "rejected by the gate" in out, out
    assert current_version(env) == 1
    time.sleep(1.5)
    assert check(server, PROBE).headers["X-spamfilter-model"] == "1"
    listing = train(env, "--list")
    assert listing.splitlines()[1].lstrip().startswith("2") and "* " in listing


def test_rollback_and_forward(server: Server, env: dict[str, str]) -> None:
    assert "now serving the shipped model" in train(env, "--rollback")
    assert current_version(env) is None
    wait_for_model(server, json.loads((REPO / "models" / "default.json").read_text())["version"])
    assert "now serving version 1" in train(env, "--rollback", "1")
    wait_for_model(server, "1")


def test_kill_during_training_keeps_the_current_model(server: Server, env: dict[str, str]) -> None:
    process = subprocess.Popen(
        [sys.executable, "train.py", "--force", "--min-new-labels", "0"],
        cwd=REPO,
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # "training on ..." once the data is loaded
    assert line.startswith("training on"), line
    time.sleep(2)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert current_version(env) == 1
    assert check(server, PROBE).headers["X-spamfilter-model"] == "1"
    # The lock died with the process: the next run is not told another one is running.
    assert "another retraining" not in train(env)


def test_concurrent_submissions_lose_no_labels(server: Server, env: dict[str, str]) -> None:
    before = label_count(env)
    texts = [f"Question {i}: which rootstock did you use for the apple tree in bed {i}?" for i in range(120)]

    def worker(chunk: list[str]) -> None:
        for text in chunk:
            submit(server, "ham", text)

    threads = [threading.Thread(target=worker, args=(texts[i::6],)) for i in range(6)]
    same = [
        threading.Thread(target=submit, args=(server, "spam", "Same comment from six moderators")) for _ in range(6)
    ]
    for t in threads + same:
        t.start()
    for t in threads + same:
        t.join()
    assert label_count(env) == before + 120 + 1
