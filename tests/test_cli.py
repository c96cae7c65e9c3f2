"""Operator CLI: keys are created, listed and revoked with `flask --app spamfilter keys ...`."""

from __future__ import annotations

import re

from flask import Flask

from spamfilter.db import ApiKey
from spamfilter.keys import find_key, hash_key


def test_create_list_revoke(app: Flask) -> None:
    runner = app.test_cli_runner()
    created = runner.invoke(args=["keys", "create", "--site", "https://blog.example", "--site", "forum.example/"])
    assert created.exit_code == 0, created.output
    key = created.output.strip()
    assert re.fullmatch(r"[a-z0-9]{12}", key)

    with app.extensions["spamfilter"].sessions() as session:
        row = session.query(ApiKey).one()
        assert row.key_hash == hash_key(key) and key not in row.key_hash  # only the hash is stored
        assert sorted(s.site for s in row.sites) == ["blog.example", "forum.example"]

    listed = runner.invoke(args=["keys", "list"])
    assert key[:4] in listed.output and "active" in listed.output and key not in listed.output

    revoked = runner.invoke(args=["keys", "revoke", key[:4]])
    assert revoked.exit_code == 0, revoked.output
    with app.extensions["spamfilter"].sessions() as session:
        assert find_key(session, key) is None
    assert "revoked" in runner.invoke(args=["keys", "list"]).output


def test_create_requires_a_site(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["keys", "create"])
    assert result.exit_code != 0 and "--site" in result.output


def test_revoke_unknown_key_fails(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["keys", "revoke", "zzzz"])
    assert result.exit_code != 0 and "0 active keys" in result.output
