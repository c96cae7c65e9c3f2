"""Retention of personal data in the check log, and forgetting one person on request."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from spamfilter.db import Check, Label, utcnow
from spamfilter.privacy import apply_retention


def _check(client: FlaskClient, form: dict[str, str], **fields: str) -> str:
    return client.post("/1.1/comment-check", data={**form, **fields}).headers["X-akismet-guid"]


def _age(app: Flask, guid: str, days: int) -> None:
    service = app.extensions["spamfilter"]
    assert service.log.flush()
    with service.sessions() as session:
        session.execute(update(Check).where(Check.guid == guid).values(created_at=utcnow() - timedelta(days=days)))
        session.commit()


def _rows(app: Flask) -> dict[str, Check]:
    service = app.extensions["spamfilter"]
    assert service.log.flush()
    with service.sessions() as session:
        return {c.guid: c for c in session.scalars(select(Check))}


def test_retention_anonymises_old_checks_only(app: Flask, client: FlaskClient, check_form: dict[str, str]) -> None:
    old, recent = _check(client, check_form), _check(client, check_form, comment_content="A newer comment.")
    _age(app, old, 40)
    with app.extensions["spamfilter"].sessions() as session:
        assert apply_retention(session, 30, "anonymise") == 1
        assert apply_retention(session, 30, "anonymise") == 0  # nothing left to blank
    rows = _rows(app)
    assert (rows[old].user_ip, rows[old].author_email, rows[old].author, rows[old].user_agent) == ("", "", "", "")
    assert rows[old].verdict == "ham" and rows[old].content == check_form["comment_content"]  # statistics stay
    assert (rows[recent].user_ip, rows[recent].author_email) == ("203.0.113.7", "dana@example.org")


def test_retention_can_delete(app: Flask, client: FlaskClient, check_form: dict[str, str]) -> None:
    old, recent = _check(client, check_form), _check(client, check_form, comment_content="Another one.")
    _age(app, old, 8)
    with app.extensions["spamfilter"].sessions() as session:
        assert apply_retention(session, 0, "delete") == 0  # 0 days: keep everything
        assert apply_retention(session, 7, "delete") == 1
    assert set(_rows(app)) == {recent}


def test_forget_one_person_by_email_or_ip(app: Flask, client: FlaskClient, check_form: dict[str, str]) -> None:
    dana = _check(client, check_form)
    client.post("/1.1/submit-ham", data={**check_form, "guid": dana})
    other = _check(client, check_form, comment_author_email="lee@example.net", user_ip="198.51.100.9")
    by_ip = _check(client, check_form, comment_author_email="", user_ip="192.0.2.44", comment_content="Hi!")
    runner = app.test_cli_runner()

    result = runner.invoke(args=["privacy", "forget", "--email", "DANA@example.org"])
    assert result.exit_code == 0, result.output
    assert "deleted 1 logged checks and 1 labels" in result.output
    result = runner.invoke(args=["privacy", "forget", "--ip", "192.0.2.44"])
    assert "deleted 1 logged checks and 0 labels" in result.output
    assert set(_rows(app)) == {other}
    with app.extensions["spamfilter"].sessions() as session:
        assert session.scalars(select(Label)).all() == []
    assert by_ip not in _rows(app)

    refused = runner.invoke(args=["privacy", "forget"])
    assert refused.exit_code != 0 and "e-mail address, an IP address or both" in refused.output


def test_purge_command_says_what_it_did(app: Flask, client: FlaskClient, check_form: dict[str, str]) -> None:
    runner = app.test_cli_runner()
    assert "nothing to do" in runner.invoke(args=["privacy", "purge"]).output
    _age(app, _check(client, check_form), 100)
    app.config.update(RETENTION_DAYS=90, RETENTION_MODE="anonymise")
    assert "anonymise: 1 logged checks older than 90 days" in runner.invoke(args=["privacy", "purge"]).output
