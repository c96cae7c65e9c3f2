"""Akismet's REST API through the Flask test client: exact bodies and headers, as clients compare them.

See ../shared/AKISMET_API.md, sections 1, 2 and 5.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

import pytest
from conftest import BLOG
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from spamfilter.db import ApiKey, Check, Label, utcnow
from spamfilter.keys import create_key, hash_key, revoke

THANKS = b"Thanks for making the web a better place."
GUID = re.compile(r"[0-9a-f]{32}")
# What gunicorn accepts in a response header value (gunicorn/http/wsgi.py, HEADER_VALUE_RE).
HEADER_VALUE = re.compile(r"[ \t\x21-\x7e\x80-\xff]*")

HAM = "Small typo in the second paragraph: it should say their, not there. Otherwise a lovely write-up."
HAM_2 = "We walked the coastal path last spring and your photos brought it all back."
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
def form(check_form: dict[str, str]) -> dict[str, str]:
    """An ordinary comment that the model takes for ham."""
    return {**check_form, "comment_content": HAM}


def post(client: FlaskClient, method: str, fields: dict[str, str] | bytes, **kwargs: Any) -> TestResponse:
    return client.post(f"/1.1/{method}", data=fields, **kwargs)


def without(fields: dict[str, str], *names: str) -> dict[str, str]:
    return {k: v for k, v in fields.items() if k not in names}


def assert_answer(resp: TestResponse, body: bytes) -> None:
    """A successful Akismet answer: 200, exact plain body, no debug header."""
    assert resp.status_code == 200
    assert resp.data == body
    assert resp.mimetype == "text/plain"
    assert "X-akismet-debug-help" not in resp.headers
    assert "X-akismet-alert-code" not in resp.headers


def assert_verdict(resp: TestResponse, body: bytes) -> str:
    """A comment-check answer; returns its guid."""
    assert_answer(resp, body)
    guid = resp.headers.get("X-akismet-guid", "")
    assert GUID.fullmatch(guid), guid
    return guid


def assert_error(resp: TestResponse, body: bytes = b"invalid", debug_help: str | None = None) -> None:
    """An Akismet-level error: still 200, exact body, a debug header, no guid."""
    assert resp.status_code == 200
    assert resp.data == body
    assert resp.mimetype == "text/plain"
    assert resp.headers.get("X-akismet-debug-help")
    if debug_help is not None:
        assert resp.headers["X-akismet-debug-help"] == debug_help
    assert "X-akismet-guid" not in resp.headers
    assert "X-akismet-pro-tip" not in resp.headers


def new_key(app: Flask, sites: list[str], monthly_limit: int | None = None) -> str:
    with app.extensions["spamfilter"].sessions() as session:
        return create_key(session, sites, label="extra", monthly_limit=monthly_limit)


def revoke_key(app: Flask, key: str) -> None:
    with app.extensions["spamfilter"].sessions() as session:
        revoke(session, session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_key(key))).one())


def checks(app: Flask) -> list[Check]:
    assert app.extensions["spamfilter"].log.flush()  # checks are logged in the background
    with app.extensions["spamfilter"].sessions() as session:
        return list(session.scalars(select(Check).order_by(Check.id)))


def check_by_guid(app: Flask, guid: str) -> Check:
    assert app.extensions["spamfilter"].log.flush()
    with app.extensions["spamfilter"].sessions() as session:
        return session.scalars(select(Check).where(Check.guid == guid)).one()


def labels(app: Flask) -> list[Label]:
    with app.extensions["spamfilter"].sessions() as session:
        return list(session.scalars(select(Label).order_by(Label.id)))


# --- verify-key -----------------------------------------------------------------------------------


def test_verify_key_valid_with_key_or_api_key(client: FlaskClient, api_key: str) -> None:
    assert_answer(post(client, "verify-key", {"key": api_key, "blog": BLOG}), b"valid")
    # @cedx/akismet sends only api_key, even to verify-key.
    assert_answer(post(client, "verify-key", {"api_key": api_key, "blog": BLOG}), b"valid")
    # Extras some clients add are ignored.
    extras = {"key": api_key, "blog": BLOG, "blog_charset": "UTF-8", "blog_lang": "en_US", "is_test": "1"}
    assert_answer(post(client, "verify-key", extras), b"valid")


def test_verify_key_wordpress_candidate_key_wins(client: FlaskClient, api_key: str) -> None:
    # WordPress: key=<typed candidate>&api_key=<key already stored>.
    assert_error(post(client, "verify-key", {"key": "badkey000000", "api_key": api_key, "blog": BLOG}))
    assert_answer(post(client, "verify-key", {"key": api_key, "api_key": "oldkey000000", "blog": BLOG}), b"valid")


def test_verify_key_invalid(app: Flask, client: FlaskClient, api_key: str) -> None:
    assert_error(post(client, "verify-key", {"key": "unknown00000", "blog": BLOG}))
    assert_error(post(client, "verify-key", {"blog": BLOG}), debug_help='Empty "api_key" value')
    assert_error(post(client, "verify-key", {"key": "", "api_key": "", "blog": BLOG}))
    assert_error(post(client, "verify-key", {"key": api_key}), debug_help='Empty "blog" value')
    assert_error(post(client, "verify-key", {"key": api_key, "blog": ""}), debug_help='Empty "blog" value')
    revoke_key(app, api_key)
    assert_error(post(client, "verify-key", {"key": api_key, "blog": BLOG}))


def test_verify_key_sites(app: Flask, client: FlaskClient, api_key: str) -> None:
    assert_error(post(client, "verify-key", {"key": api_key, "blog": "https://other.example"}))
    assert_error(post(client, "verify-key", {"key": api_key, "blog": "https://blog.example.evil.example"}))

    anywhere = new_key(app, ["*"])
    for blog in (BLOG, "https://other.example", "http://192.0.2.5:8080/wp"):
        assert_answer(post(client, "verify-key", {"key": anywhere, "blog": blog}), b"valid")

    subfolder = new_key(app, ["https://example.com/blog"])
    for blog in (
        "https://example.com/blog",
        "https://example.com/blog/",
        "https://example.com/blog/sub",
        "http://example.com/blog",
        "https://www.example.com/blog",
        "http://WWW.Example.com/Blog/sub/",
    ):
        assert_answer(post(client, "verify-key", {"key": subfolder, "blog": blog}), b"valid")
    for blog in ("https://example.com", "https://example.com/blogger", "https://example.org/blog"):
        assert_error(post(client, "verify-key", {"key": subfolder, "blog": blog}))


def test_not_allowed_site_debug_header_is_a_valid_header_value(
    client: FlaskClient, api_key: str, form: dict[str, str]
) -> None:
    blog = "https://例え.example/ブログ"
    resp = post(client, "verify-key", {"key": api_key, "blog": blog})
    assert_error(resp)
    assert HEADER_VALUE.fullmatch(resp.headers["X-akismet-debug-help"])
    resp = post(client, "comment-check", {**form, "blog": blog})
    assert_error(resp)
    assert HEADER_VALUE.fullmatch(resp.headers["X-akismet-debug-help"])


# --- comment-check: verdicts ----------------------------------------------------------------------


def test_comment_check_true_and_false(client: FlaskClient, form: dict[str, str]) -> None:
    ham = post(client, "comment-check", form)
    ham_guid = assert_verdict(ham, b"false")
    assert "X-akismet-pro-tip" not in ham.headers
    spam_guid = assert_verdict(post(client, "comment-check", {**form, **SPAM}), b"true")
    assert ham_guid != spam_guid
    assert assert_verdict(post(client, "comment-check", form), b"false") != ham_guid


def test_comment_check_test_triggers(client: FlaskClient, form: dict[str, str]) -> None:
    for trigger in (
        {"comment_author": "viagra-test-123"},
        {"comment_author": "akismet-guaranteed-spam"},
        {"comment_author_email": "akismet-guaranteed-spam@example.com"},
    ):
        resp = post(client, "comment-check", {**form, **trigger, "is_test": "1"})
        assert_verdict(resp, b"true")
        assert "X-akismet-pro-tip" not in resp.headers


def test_comment_check_administrator_is_never_spam(client: FlaskClient, form: dict[str, str]) -> None:
    spammy = {**form, **SPAM}
    assert_verdict(post(client, "comment-check", spammy), b"true")
    for role in ("administrator", "editor,administrator", "Editor, Administrator"):
        resp = post(client, "comment-check", {**spammy, "user_role": role})
        assert_verdict(resp, b"false")
        assert "X-akismet-pro-tip" not in resp.headers
    assert_verdict(post(client, "comment-check", {**spammy, "user_role": "editor"}), b"true")


def test_comment_check_test_discard(client: FlaskClient, form: dict[str, str]) -> None:
    resp = post(client, "comment-check", {**form, "test_discard": "1", "is_test": "1"})
    assert_verdict(resp, b"true")
    assert resp.headers["X-akismet-pro-tip"] == "discard"


def test_comment_check_honeypot(client: FlaskClient, form: dict[str, str]) -> None:
    assert_verdict(post(client, "comment-check", {**form, "honeypot_field_name": "hp", "hp": "filled"}), b"true")
    assert_verdict(post(client, "comment-check", {**form, "honeypot_field_name": "hp", "hp": ""}), b"false")
    assert_verdict(post(client, "comment-check", {**form, "honeypot_field_name": "hp"}), b"false")


def test_comment_check_is_test_accepted(app: Flask, client: FlaskClient, form: dict[str, str]) -> None:
    guids = [assert_verdict(post(client, "comment-check", {**form, "is_test": v}), b"false") for v in ("1", "true")]
    guids.append(assert_verdict(post(client, "comment-check", form), b"false"))
    assert [check_by_guid(app, g).is_test for g in guids] == [True, True, False]


# --- comment-check: how the key travels -----------------------------------------------------------


def test_comment_check_key_styles(app: Flask, client: FlaskClient, api_key: str, form: dict[str, str]) -> None:
    bare = without(form, "api_key")
    assert_verdict(post(client, "comment-check", form), b"false")
    assert_verdict(post(client, "comment-check", {**bare, "key": api_key}), b"false")
    for host in (
        f"{api_key}.rest.akismet.com",
        f"{api_key}.rest.akismet.com:443",
        f"{api_key}.localhost:8000",
        f"{api_key.upper()}.REST.AKISMET.COM",
    ):
        assert_verdict(post(client, "comment-check", bare, headers={"Host": host}), b"false")
    # A key parameter beats the Host; for comment-check api_key beats key.
    assert_verdict(post(client, "comment-check", form, headers={"Host": "unknown00000.rest.akismet.com"}), b"false")
    assert_verdict(post(client, "comment-check", {**form, "key": "unknown00000"}), b"false")
    assert_error(post(client, "comment-check", {**bare, "api_key": "unknown00000", "key": api_key}))
    assert len(checks(app)) == 8


def test_comment_check_without_any_key(app: Flask, client: FlaskClient, form: dict[str, str]) -> None:
    bare = without(form, "api_key")
    for host in ("rest.akismet.com", "rest.akismet.com:443", "localhost:8000", "unknown00000.rest.akismet.com"):
        assert_error(post(client, "comment-check", bare, headers={"Host": host}))
    resp = post(client, "comment-check", bare, headers={"Host": "rest.akismet.com"})
    assert_error(resp, b"invalid", 'Empty "api_key" value')
    assert checks(app) == []


def test_comment_check_bad_keys_and_sites(app: Flask, client: FlaskClient, api_key: str, form: dict[str, str]) -> None:
    assert_error(post(client, "comment-check", {**form, "api_key": "unknown00000"}))
    assert_error(post(client, "comment-check", {**form, "blog": "https://other.example"}))
    revoke_key(app, api_key)
    assert_error(post(client, "comment-check", form))
    assert checks(app) == []


def test_comment_check_missing_fields(app: Flask, client: FlaskClient, form: dict[str, str]) -> None:
    no_blog = b"Missing required field: blog."
    no_ip = b"Missing required field: user_ip."
    assert_error(post(client, "comment-check", without(form, "blog")), no_blog, 'Empty "blog" value')
    assert_error(post(client, "comment-check", without(form, "user_ip")), no_ip, 'Empty "user_ip" value')
    # Empty values count as absent (Net::Akismet sends every unset field).
    assert_error(post(client, "comment-check", {**form, "user_ip": ""}), no_ip, 'Empty "user_ip" value')
    assert_error(post(client, "comment-check", {**form, "blog": ""}), no_blog, 'Empty "blog" value')
    assert_error(post(client, "comment-check", without(form, "blog", "user_ip")), no_blog)
    assert checks(app) == []


# --- comment-check: what clients send -------------------------------------------------------------


def test_comment_check_ignores_unknown_and_empty_fields(client: FlaskClient, form: dict[str, str]) -> None:
    wordpress = {
        **form,
        "comment_agent": "Mozilla/5.0",
        "comment_author_IP": "203.0.113.7",
        "comment_post_ID": "42",
        "comment_approved": "0",
        "user_ID": "0",
        "HTTP_ACCEPT": "text/html",
        "HTTP_ACCEPT_LANGUAGE": "en-GB,en;q=0.8",
        "REMOTE_ADDR": "203.0.113.7",
        "REQUEST_URI": "/wp-comments-post.php",
        "POST_foo": "bar",
        "akismet_comment_nonce": "passed",
        "blog_lang": "en_US",
        "blog_charset": "UTF-8",
        "comment_date_gmt": "2026-11-02 03:04:05",
        "comment_post_modified_gmt": "2026-11-01T10:00:00.000Z",
        "recheck_reason": "edit",
    }
    assert_verdict(post(client, "comment-check", wordpress), b"false")
    net_akismet = {**form, "comment_author_url": "", "referrer": "", "comment_type": "", "user_role": ""}
    assert_verdict(post(client, "comment-check", net_akismet), b"false")


def test_comment_check_comment_context(client: FlaskClient, form: dict[str, str]) -> None:
    context = {"comment_context[0]": "baking", "comment_context[1]": "bread"}
    assert_verdict(post(client, "comment-check", {**form, **context}), b"false")
    assert_verdict(post(client, "comment-check", {**form, "comment_context": "baking"}), b"false")


def test_comment_check_content_types(app: Flask, client: FlaskClient, form: dict[str, str]) -> None:
    body = urlencode({**form, "comment_content": HAM_2}).encode()
    for content_type in (
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded;charset=UTF-8",
        "application/x-www-form-urlencoded; charset=UTF-8",
        "text/plain",
        "application/octet-stream",
        None,
    ):
        guid = assert_verdict(post(client, "comment-check", body, content_type=content_type), b"false")
        assert check_by_guid(app, guid).content == HAM_2, content_type
    guid = assert_verdict(client.post("/1.1/comment-check", data=body, headers={"Content-Type": ""}), b"false")
    assert check_by_guid(app, guid).content == HAM_2
    # Fields in the query string count too.
    query = urlencode({"api_key": form["api_key"], "blog": BLOG})
    guid = assert_verdict(client.post(f"/1.1/comment-check?{query}", data=without(form, "api_key", "blog")), b"false")
    assert check_by_guid(app, guid).site == "blog.example"
    # multipart/form-data (what a browser form would send).
    guid = assert_verdict(post(client, "comment-check", form, content_type="multipart/form-data"), b"false")
    assert check_by_guid(app, guid).content == HAM


def test_comment_check_charsets(app: Flask, client: FlaskClient, form: dict[str, str]) -> None:
    base = urlencode(without(form, "comment_content")).encode()
    for extra in (
        b"&blog_charset=ISO-8859-1&comment_content=Un+caf%E9+cr%E8me",
        b"&blog_charset=ISO-8859-1&comment_content=Un+caf\xe9+cr\xe8me",
        b"&comment_content=Un+caf\xe9+cr\xe8me&blog_charset=windows-1252",
        b"&comment_content=Un+caf%C3%A9+cr%C3%A8me",
        "&comment_content=Un caf\u00e9 cr\u00e8me".encode(),
    ):
        resp = post(client, "comment-check", base + extra, content_type="application/x-www-form-urlencoded")
        assert resp.data in (b"true", b"false")
        assert check_by_guid(app, assert_verdict(resp, resp.data)).content == "Un café crème", extra


def test_comment_check_latin1_without_charset(app: Flask, client: FlaskClient, form: dict[str, str]) -> None:
    body = urlencode(without(form, "comment_content")).encode() + b"&comment_content=Un+caf\xe9+cr\xe8me"
    resp = post(client, "comment-check", body, content_type="application/x-www-form-urlencoded")
    assert resp.data in (b"true", b"false")
    assert check_by_guid(app, assert_verdict(resp, resp.data)).content == "Un café crème"


def test_comment_check_unusable_blog_charset(client: FlaskClient, form: dict[str, str]) -> None:
    body = urlencode(without(form, "comment_content")).encode() + b"&blog_charset=undefined&comment_content=caf%E9"
    resp = post(client, "comment-check", body, content_type="application/x-www-form-urlencoded")
    assert resp.data in (b"true", b"false")
    assert_verdict(resp, resp.data)


def test_malformed_blog_url_is_invalid(client: FlaskClient, api_key: str, form: dict[str, str]) -> None:
    assert_error(post(client, "verify-key", {"key": api_key, "blog": "https://[::1"}))
    assert_error(post(client, "comment-check", {**form, "blog": "https://[::1"}))


def test_multipart_nul_bytes_are_dropped(app: Flask, client: FlaskClient, form: dict[str, str]) -> None:
    resp = post(client, "comment-check", {**form, "comment_author": "Da\x00na"}, content_type="multipart/form-data")
    assert check_by_guid(app, assert_verdict(resp, b"false")).author == "Dana"


def test_comment_check_nul_bytes_are_dropped(app: Flask, client: FlaskClient, form: dict[str, str]) -> None:
    resp = post(client, "comment-check", {**form, "comment_author": "Da\x00na"})
    assert check_by_guid(app, assert_verdict(resp, b"false")).author == "Dana"


def test_comment_check_one_megabyte_comment(app: Flask, client: FlaskClient, form: dict[str, str]) -> None:
    content = ("A long and rambling note about gardening and tomatoes. " * 20000)[: 1024 * 1024]
    resp = post(client, "comment-check", {**form, "comment_content": content})
    assert resp.data in (b"true", b"false")
    guid = assert_verdict(resp, resp.data)
    assert len(check_by_guid(app, guid).content) == len(content)


def test_body_over_the_limit_is_413(app: Flask, client: FlaskClient, form: dict[str, str]) -> None:
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert limit == 4 * 1024 * 1024
    body = urlencode({**form, "comment_content": "x" * limit}).encode()
    resp = post(client, "comment-check", body, content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 413
    assert resp.data == f"Request body too large: the limit is {limit} bytes.".encode()
    assert resp.mimetype == "text/plain"
    assert checks(app) == []


def test_long_blog_url_is_answered(app: Flask, client: FlaskClient, form: dict[str, str]) -> None:
    long_blog = f"{BLOG}/{'section/' * 80}post"
    guid = assert_verdict(post(client, "comment-check", {**form, "blog": long_blog}), b"false")
    assert len(check_by_guid(app, guid).site) == 500  # cut to the column, the same way every time
    assert_answer(post(client, "submit-spam", {**form, "blog": long_blog}), THANKS)
    [label] = labels(app)
    assert (label.check_guid, label.label) == (guid, "spam")


# --- every check is logged ------------------------------------------------------------------------


def test_every_check_is_logged(app: Flask, client: FlaskClient, api_key: str, form: dict[str, str]) -> None:
    version = app.extensions["spamfilter"].models.model.version
    resp = post(client, "comment-check", form)
    ham = check_by_guid(app, assert_verdict(resp, b"false"))
    assert resp.headers["X-spamfilter-model"] == version
    assert ham.site == "blog.example"
    assert ham.verdict == "ham"
    assert 0.0 <= ham.score < 0.5
    assert ham.model_version == version
    assert ham.content == HAM
    assert (ham.author, ham.author_email, ham.user_ip) == ("Dana", "dana@example.org", "203.0.113.7")
    assert ham.permalink == form["permalink"]
    assert ham.is_test is False
    with app.extensions["spamfilter"].sessions() as session:
        assert session.scalars(select(ApiKey).where(ApiKey.id == ham.key_id)).one().key_hash == hash_key(api_key)

    spam = check_by_guid(app, assert_verdict(post(client, "comment-check", {**form, **SPAM}), b"true"))
    assert spam.verdict in ("spam", "discard")
    assert spam.score > 0.5
    assert spam.content == SPAM["comment_content"]
    assert spam.model_version == version

    resp = post(client, "comment-check", {**form, "test_discard": "1", "blog": "http://www.blog.example/"})
    discard = check_by_guid(app, assert_verdict(resp, b"true"))
    assert (discard.verdict, discard.site) == ("discard", "blog.example")
    assert len(checks(app)) == 3


# --- submit-spam / submit-ham ---------------------------------------------------------------------


def test_submit_answers_thanks_and_stores_a_label(app: Flask, client: FlaskClient, form: dict[str, str]) -> None:
    assert_answer(post(client, "submit-spam", form), THANKS)
    [label] = labels(app)
    assert (label.label, label.source, label.site, label.content) == ("spam", "submit-spam", "blog.example", HAM)
    assert label.check_guid is None  # nothing was checked
    assert_answer(post(client, "submit-ham", {**form, "comment_content": HAM_2}), THANKS)
    assert [(lb.label, lb.content) for lb in labels(app)] == [("spam", HAM), ("ham", HAM_2)]


def test_submit_matches_the_check_by_guid(app: Flask, client: FlaskClient, form: dict[str, str]) -> None:
    guid = assert_verdict(post(client, "comment-check", form), b"false")
    # The client sends the guid with the comment as it is now (edited): the label is for what was checked.
    edited = {**form, "comment_content": HAM + " (edited)", "guid": guid}
    assert_answer(post(client, "submit-spam", edited), THANKS)
    [label] = labels(app)
    assert (label.check_guid, label.label, label.content) == (guid, "spam", HAM)


def test_submit_matches_the_check_by_content_and_site(app: Flask, client: FlaskClient, form: dict[str, str]) -> None:
    other = assert_verdict(post(client, "comment-check", {**form, "comment_content": HAM_2}), b"false")
    guid = assert_verdict(post(client, "comment-check", form), b"false")
    assert other != guid
    # Same comment, whitespace and blog spelling aside.
    resent = {**form, "comment_content": "  " + HAM.replace(" ", "  "), "blog": "http://www.blog.example/"}
    assert_answer(post(client, "submit-ham", resent), THANKS)
    [label] = labels(app)
    assert (label.check_guid, label.label, label.site, label.content) == (guid, "ham", "blog.example", HAM)


def test_submit_guid_of_another_key_is_not_used(app: Flask, client: FlaskClient, form: dict[str, str]) -> None:
    other_key = new_key(app, ["https://other.example"])
    other = {**form, "api_key": other_key, "blog": "https://other.example", "comment_content": HAM_2}
    guid = assert_verdict(post(client, "comment-check", other), b"false")
    assert_answer(post(client, "submit-spam", {**form, "guid": guid}), THANKS)
    [label] = labels(app)
    assert (label.check_guid, label.site, label.content) == (None, "blog.example", HAM)


def test_submit_twice_updates_one_row(app: Flask, client: FlaskClient, form: dict[str, str]) -> None:
    guid = assert_verdict(post(client, "comment-check", form), b"false")
    assert_answer(post(client, "submit-spam", form), THANKS)
    assert_answer(post(client, "submit-ham", {**form, "guid": guid}), THANKS)
    assert_answer(post(client, "submit-ham", form), THANKS)
    [label] = labels(app)
    assert (label.label, label.source, label.check_guid) == ("ham", "submit-ham", guid)
    # And without any check at all.
    assert_answer(post(client, "submit-ham", {**form, "comment_content": HAM_2}), THANKS)
    assert_answer(post(client, "submit-spam", {**form, "comment_content": HAM_2}), THANKS)
    assert [(lb.label, lb.content) for lb in labels(app)] == [("ham", HAM), ("spam", HAM_2)]


def test_submit_is_test_stores_nothing(app: Flask, client: FlaskClient, form: dict[str, str]) -> None:
    for method in ("submit-spam", "submit-ham"):
        for value in ("1", "true"):
            assert_answer(post(client, method, {**form, "is_test": value}), THANKS)
    assert labels(app) == []


def test_submit_errors(app: Flask, client: FlaskClient, api_key: str, form: dict[str, str]) -> None:
    for method in ("submit-spam", "submit-ham"):
        assert_error(post(client, method, {**form, "api_key": "unknown00000"}))
        assert_error(post(client, method, without(form, "api_key")))
        assert_error(post(client, method, {**form, "blog": "https://other.example"}))
        assert_error(post(client, method, without(form, "user_ip")), b"Missing required field: user_ip.")
        assert_error(post(client, method, {**form, "blog": ""}), b"Missing required field: blog.")
    assert labels(app) == []
    # Key in the Host name works for submissions too.
    host = {"Host": f"{api_key}.rest.akismet.com"}
    assert_answer(post(client, "submit-spam", without(form, "api_key"), headers=host), THANKS)
    revoke_key(app, api_key)
    assert_error(post(client, "submit-ham", form))
    assert [lb.label for lb in labels(app)] == ["spam"]


# --- 1.2: usage-limit and key-sites ---------------------------------------------------------------


def usage(client: FlaskClient, key: str, method: str = "GET") -> dict[str, Any]:
    resp = client.open(f"/1.2/usage-limit?api_key={key}", method=method)
    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    assert "X-akismet-debug-help" not in resp.headers
    return json.loads(resp.data)


def test_usage_limit(app: Flask, client: FlaskClient, api_key: str, form: dict[str, str]) -> None:
    expected = {"limit": "none", "usage": 0, "percentage": "0.00", "throttled": False}
    assert usage(client, api_key) == expected
    assert_verdict(post(client, "comment-check", form), b"false")
    assert_verdict(post(client, "comment-check", {**form, "comment_author": "viagra-test-123"}), b"true")
    assert_verdict(post(client, "comment-check", {**form, "is_test": "1"}), b"false")  # not counted
    assert_error(post(client, "comment-check", without(form, "user_ip")), b"Missing required field: user_ip.")
    assert_answer(post(client, "submit-spam", form), THANKS)  # not a check
    expected["usage"] = 2
    assert usage(client, api_key) == expected
    assert usage(client, api_key, "POST") == expected
    resp = client.post("/1.2/usage-limit", data={"api_key": api_key})
    assert json.loads(resp.data) == expected

    limited = new_key(app, [BLOG], monthly_limit=8)
    assert usage(client, limited) == {"limit": 8, "usage": 0, "percentage": "0.00", "throttled": False}
    assert_verdict(post(client, "comment-check", {**form, "api_key": limited}), b"false")
    assert usage(client, limited) == {"limit": 8, "usage": 1, "percentage": "12.50", "throttled": False}
    assert usage(client, api_key)["usage"] == 2  # per key


def test_usage_limit_bad_key(app: Flask, client: FlaskClient, api_key: str) -> None:
    for url in ("/1.2/usage-limit?api_key=unknown00000", "/1.2/usage-limit"):
        assert_error(client.get(url))
        assert_error(client.post(url))
    revoke_key(app, api_key)
    assert_error(client.get(f"/1.2/usage-limit?api_key={api_key}"))


def test_key_sites_json(app: Flask, client: FlaskClient, api_key: str, form: dict[str, str]) -> None:
    month = utcnow().strftime("%Y-%m")
    resp = client.get(f"/1.2/key-sites?api_key={api_key}")
    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    assert json.loads(resp.data) == {month: [], "limit": 500, "offset": 0, "total": 0}

    key = new_key(app, [BLOG, "https://second.example"])
    second = {**form, "api_key": key, "blog": "https://second.example"}
    assert_verdict(post(client, "comment-check", {**form, "api_key": key}), b"false")
    assert_verdict(post(client, "comment-check", {**second, "comment_author": "viagra-test-123"}), b"true")
    assert_verdict(post(client, "comment-check", second), b"false")
    assert_verdict(post(client, "comment-check", {**second, "is_test": "1"}), b"false")  # not counted
    assert_answer(post(client, "submit-spam", second), THANKS)  # missed spam
    assert_answer(post(client, "submit-ham", {**second, "comment_content": HAM_2}), THANKS)  # false positive

    body = json.loads(client.get(f"/1.2/key-sites?api_key={key}&month={month}").data)
    assert body == {
        month: [
            {
                "site": "second.example",
                "api_calls": "2",
                "spam": "1",
                "ham": "1",
                "missed_spam": "1",
                "false_positives": "1",
                "is_revoked": False,
            },
            {
                "site": "blog.example",
                "api_calls": "1",
                "spam": "0",
                "ham": "1",
                "missed_spam": "0",
                "false_positives": "0",
                "is_revoked": False,
            },
        ],
        "limit": 500,
        "offset": 0,
        "total": 2,
    }
    paged = json.loads(client.post("/1.2/key-sites", data={"api_key": key, "limit": "1", "offset": "1"}).data)
    assert [r["site"] for r in paged[month]] == ["blog.example"]
    assert (paged["limit"], paged["offset"], paged["total"]) == (1, 1, 2)
    filtered = json.loads(client.get(f"/1.2/key-sites?api_key={key}&filter=BLOG").data)
    assert [r["site"] for r in filtered[month]] == ["blog.example"]
    assert filtered["total"] == 1
    # The first key saw none of this.
    assert json.loads(client.get(f"/1.2/key-sites?api_key={api_key}").data)[month] == []


def test_key_sites_csv(client: FlaskClient, api_key: str, form: dict[str, str]) -> None:
    month = utcnow().strftime("%Y-%m")
    assert_verdict(post(client, "comment-check", form), b"false")
    resp = client.get(f"/1.2/key-sites?api_key={api_key}&format=csv")
    assert resp.status_code == 200
    assert resp.mimetype == "text/csv"
    lines = resp.data.decode().splitlines()
    assert lines[0].startswith("Active sites for ")
    assert lines[0] == f"Active sites for {api_key} during {month} (limit:500, offset: 0, total: 1)"
    assert lines[1] == "Site,Total API Calls,Spam,Ham,Missed Spam,False Positives,Is Revoked"
    assert lines[2:] == ["blog.example,1,0,1,0,0,false"]
    assert resp.data.endswith(b"\n")


def test_key_sites_csv_with_key_in_host(client: FlaskClient, api_key: str) -> None:
    resp = client.get("/1.2/key-sites?format=csv", headers={"Host": f"{api_key}.rest.akismet.com"})
    assert resp.status_code == 200
    assert resp.data.decode().splitlines()[0].startswith(f"Active sites for {api_key} during ")


def test_key_sites_month_and_bad_key(client: FlaskClient, api_key: str) -> None:
    for month in ("2026-13", "2026-00", "2026-1", "11-2026", "2026/11", "last"):
        assert_error(client.get(f"/1.2/key-sites?api_key={api_key}&month={month}"))
    for bad in ("limit=ten", "offset=-x"):
        assert_error(client.get(f"/1.2/key-sites?api_key={api_key}&{bad}"))
    past = json.loads(client.get(f"/1.2/key-sites?api_key={api_key}&month=2020-12").data)
    assert past == {"2020-12": [], "limit": 500, "offset": 0, "total": 0}
    assert_error(client.get("/1.2/key-sites?api_key=unknown00000"))
    assert_error(client.get("/1.2/key-sites?api_key=unknown00000&format=csv"))
    assert_error(client.get("/1.2/key-sites"))


def test_key_sites_month_out_of_range(client: FlaskClient, api_key: str) -> None:
    for month in ("9999-12", "0000-01", "\uff12\uff10\uff12\uff16-11"):
        assert_error(client.get("/1.2/key-sites", query_string={"api_key": api_key, "month": month}))


# --- paths ----------------------------------------------------------------------------------------


def test_paths(client: FlaskClient, api_key: str) -> None:
    assert client.post("/1.1/verify-key", data={"key": api_key, "blog": BLOG}).data == b"valid"
    # The 1.2 endpoints do not exist under 1.1 (and 1.1 methods not under 1.2).
    for path in ("/1.1/usage-limit", "/1.1/key-sites"):
        assert client.get(f"{path}?api_key={api_key}").status_code == 404
        assert client.post(path, data={"api_key": api_key}).status_code == 404
    for method in ("verify-key", "comment-check", "submit-spam", "submit-ham"):
        assert client.post(f"/1.2/{method}", data={"key": api_key, "blog": BLOG}).status_code == 404
    assert client.get("/1.1/comment-check").status_code == 405
