"""The review page (/moderate): sign-in, CSRF, the list and its filters, safe rendering, labels, stats.

Every test runs on SQLite and PostgreSQL (the ``app`` fixture). The session cookie
is ``Secure`` by default; Werkzeug's test client sends it over http anyway, so these
tests sign in as a browser would over https (tests/test_browser.py signs in over
real http://127.0.0.1 in Chromium).
"""

from __future__ import annotations

import html
import os
import re
import stat
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, select

from spamfilter.checks import content_hash
from spamfilter.config import instance_secret
from spamfilter.db import Base, Check, Label, Moderator, make_engine, migrate, utcnow
from spamfilter.moderators import authenticate
from spamfilter.moderators import create as create_moderator
from spamfilter.review import stats

PASSWORD = "correct horse battery"
BLOG = "blog.example"
FORUM = "forum.example"


# --- helpers --------------------------------------------------------------------------------------


def add_check(app: Flask, **values: Any) -> str:
    """Log a check directly, as the check service would; returns its guid."""
    guid = values.pop("guid", uuid.uuid4().hex)
    # One label row per (site, comment): distinct checks need distinct comments.
    content = values.pop("content", f"A perfectly ordinary comment ({guid[:6]}).")
    row = {
        "created_at": utcnow(),
        "verdict": "ham",
        "score": 0.1,
        "model_version": "v1",
        "is_test": False,
        "reasons": [{"kind": "words", "feature": "ordinary", "weight": -0.5}],
        "site": BLOG,
        "author": "Dana",
        "author_email": "dana@example.org",
        "author_url": "",
        "user_ip": "203.0.113.7",
        **values,
    }
    row["content_hash"] = content_hash(content, row["author"], row["author_email"])
    with app.extensions["spamfilter"].sessions() as session:
        session.add(Check(guid=guid, content=content, **row))
        session.commit()
    return guid


def labels(app: Flask) -> dict[str, Label]:
    with app.extensions["spamfilter"].sessions() as session:
        return {row.check_guid: row for row in session.scalars(select(Label))}


def csrf_token(client: FlaskClient, path: str = "/moderate/login") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def login(client: FlaskClient, name: str = "mia", password: str = PASSWORD, **extra: str) -> Any:
    return client.post(
        "/moderate/login", data={"csrf_token": csrf_token(client), "name": name, "password": password, **extra}
    )


def guids_on(page: str) -> list[str]:
    return re.findall(r'<tr id="check-([0-9a-f]{32})"', page)


def post_label(client: FlaskClient, **form: Any) -> Any:
    return client.post("/moderate/label", data={"csrf_token": csrf_token(client, "/moderate/"), **form})


@pytest.fixture
def moderator(app: Flask) -> str:
    with app.extensions["spamfilter"].sessions() as session:
        create_moderator(session, "mia", PASSWORD)
    return "mia"


@pytest.fixture
def signed_in(client: FlaskClient, moderator: str) -> FlaskClient:
    assert login(client).status_code == 302
    return client


# --- sign-in and CSRF --------------------------------------------------------------------------------


def test_pages_require_login(client: FlaskClient, moderator: str) -> None:
    for path in ("/moderate/", "/moderate/stats?days=7"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/moderate/login?next=")
        assert "/moderate/" in response.headers["Location"]
    # A signed-out form post is not replayed after signing in.
    response = client.post("/moderate/label", data={"csrf_token": csrf_token(client), "action": "ham"})
    assert response.status_code == 302 and response.headers["Location"] == "/moderate/login"
    # Following the redirect signs in and comes back to the page asked for.
    response = login(client, next="/moderate/stats?days=7")
    assert response.status_code == 302 and response.headers["Location"] == "/moderate/stats?days=7"
    assert client.get("/moderate/stats?days=7").status_code == 200


def test_wrong_password_and_unknown_name(client: FlaskClient, moderator: str) -> None:
    for name, password in (("mia", "wrong password!"), ("nobody", PASSWORD), ("", "")):
        response = login(client, name=name, password=password)
        assert response.status_code == 401
        assert "Wrong name or password" in response.text
    assert client.get("/moderate/").status_code == 302  # still signed out


def test_session_cookie_flags_and_logout(client: FlaskClient, moderator: str) -> None:
    response = login(client)
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("spamfilter_session="))
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie
    page = client.get("/moderate/")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"
    response = client.post("/moderate/logout", data={"csrf_token": csrf_token(client, "/moderate/")})
    assert response.status_code == 302
    assert client.get("/moderate/").status_code == 302


def test_next_never_leaves_the_review_page(client: FlaskClient, moderator: str) -> None:
    for target in ("https://evil.example/", "//evil.example/moderate/", "/healthz", "/\\evil.example", "/moderatex"):
        response = login(client, next=target)
        assert response.headers["Location"] == "/moderate/", target


def test_password_change_ends_open_sessions(app: Flask, signed_in: FlaskClient) -> None:
    result = app.test_cli_runner().invoke(
        args=["moderators", "passwd", "mia", "--password-stdin"], input="a brand new password\n"
    )
    assert result.exit_code == 0, result.output
    assert signed_in.get("/moderate/").status_code == 302
    assert login(signed_in, password="a brand new password").status_code == 302


def test_csrf_is_required_for_the_review_forms(app: Flask, client: FlaskClient, moderator: str) -> None:
    guid = add_check(app)
    response = client.post("/moderate/login", data={"name": "mia", "password": PASSWORD})
    assert response.status_code == 400 and "CSRF" in response.text
    # No session cookie came back over plain http: the page says why (the Secure flag) and what to do.
    assert "SPAMFILTER_SESSION_COOKIE_SECURE=false" in response.text
    assert client.get("/moderate/").status_code == 302  # not signed in

    assert login(client).status_code == 302
    for token in (None, "forged-token"):
        form = {"action": f"ham:{guid}", **({"csrf_token": token} if token else {})}
        response = client.post("/moderate/label", data=form)
        assert response.status_code == 400
    assert labels(app) == {}


def test_api_endpoints_stay_exempt_from_csrf(client: FlaskClient, check_form: dict[str, str]) -> None:
    response = client.post("/1.1/comment-check", data=check_form)
    assert response.status_code == 200 and response.text in {"true", "false"}
    body = {k: v for k, v in check_form.items() if k != "api_key"}
    response = client.post("/api/v1/check", json=body, headers={"Authorization": f"Bearer {check_form['api_key']}"})
    assert response.status_code == 200 and "verdict" in response.get_json()


# --- the list ---------------------------------------------------------------------------------------------


def test_list_filters_search_and_pages(app: Flask, signed_in: FlaskClient) -> None:
    now = utcnow()
    made = {
        "old_ham": add_check(app, created_at=now - timedelta(days=3), content="Lovely sourdough recipe"),
        "spam": add_check(
            app, created_at=now - timedelta(hours=5), verdict="spam", score=0.97, content="Cheap PILLS online"
        ),
        "discard": add_check(app, created_at=now - timedelta(hours=4), verdict="discard", score=0.999),
        "forum": add_check(app, created_at=now - timedelta(hours=3), site=FORUM, author_email="x@pills.example"),
        "middle": add_check(app, created_at=now - timedelta(hours=2), verdict="spam", score=0.55),
        "new_ham": add_check(app, created_at=now - timedelta(hours=1), content="100% agree_with this"),
    }
    newest_first = ["new_ham", "middle", "forum", "discard", "spam", "old_ham"]

    def listed(query: str = "") -> list[str]:
        page = signed_in.get(f"/moderate/?{query}")
        assert page.status_code == 200
        names = {v: k for k, v in made.items()}
        return [names[g] for g in guids_on(page.text)]

    assert listed() == newest_first
    assert listed("verdict=spam") == ["middle", "spam"]
    assert listed("verdict=discard") == ["discard"]
    assert listed("min_score=0.5&max_score=0.98") == ["middle", "spam"]
    assert listed(f"site={FORUM}") == ["forum"]
    day = (now - timedelta(days=3)).date().isoformat()
    assert listed(f"since={day}&until={day}") == ["old_ham"]
    assert listed("q=pills") == ["forum", "spam"]  # any case; the comment or the e-mail
    assert listed("q=cheap+pills") == ["spam"]  # every word must match
    assert listed('q="sourdough recipe"') == ["old_ham"]
    assert listed("q=100%25") == ["new_ham"]  # LIKE wildcards are searched for literally
    assert listed("q=agree_") == ["new_ham"]
    assert listed(f"q={made['discard']}") == ["discard"]  # a check by its guid
    assert listed("q=nothing-like-this") == []
    assert listed("verdict=bogus&min_score=x&since=never") == newest_first  # bad values are ignored

    # Pages of 2, older and back newer, each check once.
    app.config["MODERATE_PAGE_SIZE"] = 2
    seen, url = [], "/moderate/"
    while url:
        page = signed_in.get(url).text
        seen.append([k for g in guids_on(page) for k, v in made.items() if v == g])
        older = re.search(r'<a rel="next" href="([^"]+)"', page)
        url = html.unescape(older.group(1)) if older else ""
    assert seen == [["new_ham", "middle"], ["forum", "discard"], ["spam", "old_ham"]]
    assert "6 checks" in signed_in.get("/moderate/").text
    newer = re.search(r'<a rel="prev" href="([^"]+)"', page)
    assert newer
    back = signed_in.get(html.unescape(newer.group(1))).text
    assert [k for g in guids_on(back) for k, v in made.items() if v == g] == ["forum", "discard"]
    # Filters carry over to the next page.
    first = signed_in.get("/moderate/?verdict=ham").text
    older_link = html.unescape(re.search(r'<a rel="next" href="([^"]+)"', first).group(1))
    assert "verdict=ham" in older_link
    assert [k for g in guids_on(signed_in.get(older_link).text) for k, v in made.items() if v == g] == ["old_ham"]


def test_labelled_filter_and_badges(app: Flask, signed_in: FlaskClient) -> None:
    spam = add_check(app, verdict="spam", score=0.9, content="buy now")
    ham = add_check(app, content="nice post")
    assert post_label(signed_in, action=f"ham:{spam}").status_code == 302
    assert guids_on(signed_in.get("/moderate/?labelled=no").text) == [ham]
    assert guids_on(signed_in.get("/moderate/?labelled=ham").text) == [spam]
    assert guids_on(signed_in.get("/moderate/?labelled=spam").text) == []
    page = signed_in.get("/moderate/").text
    row = page[page.index(f'id="check-{spam}"') :]
    row = row[: row.index("</tr>")]
    assert "labelled-ham" in page and "not spam" in row and "mia · review page" in row


def test_comments_are_shown_as_text(app: Flask, signed_in: FlaskClient) -> None:
    attack = '<script>window.__pwned = 1</script><img src=x onerror="alert(1)">'
    add_check(
        app,
        content=attack,
        author="<b>Bold</b>",
        author_email='"><svg onload=alert(1)>@x',
        author_url="javascript:alert(1)",
        user_agent="</dd><script>alert(2)</script>",
        reasons=[{"kind": "words", "feature": "<script>", "weight": 1.5}],
    )
    for query in ("", "?q=script", "?q=%3Cscript%3E"):  # search highlighting must escape too
        page = signed_in.get(f"/moderate/{query}").text
        assert "<script>window.__pwned" not in page and "<script>alert(2)" not in page
        assert "<img src=x" not in page and "<svg onload" not in page and "<b>Bold" not in page
        assert "window.__pwned = 1" in page
        assert "&lt;script&gt;" in page and "&lt;b&gt;Bold&lt;/b&gt;" in page
        assert 'href="javascript:' not in page
        # The only script on the page is our own file.
        assert re.findall(r"<script[^>]*>", page) == ['<script src="/static/moderate.js" defer>']
    assert "<mark>&lt;script&gt;</mark>" in signed_in.get("/moderate/?q=%3Cscript%3E").text


# --- labels --------------------------------------------------------------------------------------------------


def test_one_click_label_is_stored_like_submit_ham(app: Flask, signed_in: FlaskClient) -> None:
    guid = add_check(app, verdict="spam", score=0.96, content="Not spam really")
    response = post_label(signed_in, action=f"ham:{guid}", next="/moderate/?verdict=spam")
    assert response.status_code == 302 and response.headers["Location"] == "/moderate/?verdict=spam"
    stored = labels(app)[guid]
    assert (stored.label, stored.source, stored.submitted_by) == ("ham", "review page", "mia")
    assert stored.content == "Not spam really" and stored.site == BLOG
    assert "Marked 1 comment as not spam" in signed_in.get("/moderate/").text
    # Changing one's mind updates the one row.
    post_label(signed_in, action=f"spam:{guid}")
    assert labels(app)[guid].label == "spam" and len(labels(app)) == 1


def test_bulk_labels(app: Flask, signed_in: FlaskClient) -> None:
    chosen = [add_check(app, content=f"comment {i}") for i in range(3)]
    left_alone = add_check(app, content="not selected")
    test_call = add_check(app, content="test call", is_test=True)
    unknown = uuid.uuid4().hex
    response = post_label(signed_in, action="spam", guid=[*chosen, test_call, unknown, "not-a-guid"])
    assert response.status_code == 302
    stored = labels(app)
    assert set(stored) == set(chosen) and all(row.label == "spam" for row in stored.values())
    assert left_alone not in stored and test_call not in stored
    page = signed_in.get("/moderate/").text
    assert "Marked 3 comments as spam" in page and "1 test call" in page and "1 comment not found" in page
    # Nothing selected, or no action: nothing happens.
    post_label(signed_in, action="ham")
    post_label(signed_in, action="maybe", guid=chosen)
    assert all(row.label == "spam" for row in labels(app).values())


def test_moderator_limited_to_a_site(app: Flask, client: FlaskClient) -> None:
    with app.extensions["spamfilter"].sessions() as session:
        create_moderator(session, "bo", PASSWORD, ["https://www.blog.example"])
    mine = add_check(app, site=BLOG)
    below = add_check(app, site=f"{BLOG}/fr")
    theirs = add_check(app, site=FORUM)
    lookalike = add_check(app, site=f"{BLOG}.evil")
    assert login(client, name="bo").status_code == 302
    page = client.get("/moderate/").text
    assert set(guids_on(page)) == {mine, below}
    assert FORUM not in page and f"{BLOG}.evil" not in page  # not even in the site filter
    post_label(client, action="spam", guid=[mine, theirs, lookalike])
    assert set(labels(app)) == {mine}


# --- stats --------------------------------------------------------------------------------------------------


def test_stats_counts_checks_labels_and_corrections(app: Flask, signed_in: FlaskClient) -> None:
    now = utcnow()
    checks = {
        # model v1: 2 spam, 1 discard, 3 ham
        "fp": add_check(app, model_version="v1", verdict="spam", score=0.9, created_at=now - timedelta(days=1)),
        "fp2": add_check(app, model_version="v1", verdict="discard", score=0.999, created_at=now - timedelta(days=1)),
        "tp": add_check(app, model_version="v1", verdict="spam", score=0.95),
        "fn": add_check(app, model_version="v1", verdict="ham", score=0.2, created_at=now - timedelta(days=2)),
        "tn": add_check(app, model_version="v1", verdict="ham", score=0.01),
        "h": add_check(app, model_version="v1", verdict="ham", score=0.02),
        # model v2: 1 spam, 1 ham
        "v2fn": add_check(app, model_version="v2", verdict="ham", score=0.4),
        "v2": add_check(app, model_version="v2", verdict="spam", score=0.93),
    }
    add_check(app, model_version="v1", verdict="spam", is_test=True)  # test calls are not counted
    add_check(app, model_version="v0", verdict="ham", created_at=now - timedelta(days=40))  # outside 7 days
    service = app.extensions["spamfilter"]
    for name, value in (("fp", "ham"), ("fp2", "ham"), ("tp", "spam"), ("fn", "spam"), ("tn", "ham"), ("v2fn", "spam")):
        assert service.label_check(checks[name], value, "submit-ham" if value == "ham" else "submit-spam", "key x")

    with service.sessions() as session:
        figures = stats(session, [], 7)
    assert figures.checks_total == 8 and figures.spam_total == 4 and figures.spam_share == 0.5
    assert figures.labels_total == 6 and figures.labels_by_source == {"submit-ham": 3, "submit-spam": 3}
    by_version = {v.version: v for v in figures.versions}
    assert set(by_version) == {"v1", "v2"}
    v1, v2 = by_version["v1"], by_version["v2"]
    assert (v1.checks, v1.spam, v1.labels, v1.false_positives, v1.false_negatives) == (6, 3, 5, 2, 1)
    assert (v2.checks, v2.spam, v2.labels, v2.false_positives, v2.false_negatives) == (2, 1, 1, 0, 1)
    today, yesterday = now.date().isoformat(), (now - timedelta(days=1)).date().isoformat()
    assert figures.checks_per_day[yesterday] == {"spam": 1, "discard": 1}
    assert figures.checks_per_day[today] == {"spam": 2, "ham": 3}
    assert len(figures.days) == 7 and figures.days[-1] == today

    page = signed_in.get("/moderate/stats?days=7").text
    assert '<span class="n" id="checks-total">8</span>' in page
    assert '<span class="n" id="spam-share">50.0%</span>' in page
    assert '<span class="n" id="labels-total">6</span>' in page
    v1_row = re.search(r'<tr id="version-v1">(.*?)</tr>', page, re.S)
    assert v1_row
    cells = re.findall(r'<td class="(\w+)">(\d+)</td>', v1_row.group(1))
    assert dict(cells) == {"checks": "6", "labels": "5", "fp": "2", "fn": "1"}
    checks_chart, labels_chart = re.findall(r"<svg.*?</svg>", page, re.S)
    assert checks_chart.count("<rect") == 5  # today: ham+spam, yesterday: spam+discard, 2 days ago: ham
    assert labels_chart.count("<rect") == 2  # today: ham and spam labels
    assert f"<title>{today}: 3 ham</title>" in checks_chart
    # The model in service, with its figures.
    model = service.models.model
    assert f'<dd id="model-version">{model.version}</dd>' in page
    assert "spam caught" in page and "roc auc" in page
    # A longer period includes the old check.
    assert '<span class="n" id="checks-total">9</span>' in signed_in.get("/moderate/stats?days=90").text


# --- accounts, secret key, schema ------------------------------------------------------------------------------


def test_moderators_cli(app: Flask) -> None:
    runner = app.test_cli_runner()
    created = runner.invoke(
        args=["moderators", "create", "ann", "--site", "https://blog.example/", "--password-stdin"],
        input=f"{PASSWORD}\n",
    )
    assert created.exit_code == 0 and "created moderator ann (blog.example)" in created.output
    prompted = runner.invoke(args=["moderators", "create", "ben"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert prompted.exit_code == 0, prompted.output
    assert runner.invoke(args=["moderators", "create", "ann", "--password-stdin"], input=f"{PASSWORD}\n").exit_code
    short = runner.invoke(args=["moderators", "create", "cy", "--password-stdin"], input="short\n")
    assert short.exit_code != 0 and "at least" in short.output

    listed = runner.invoke(args=["moderators", "list"]).output
    assert "ann" in listed and "blog.example" in listed and "ben" in listed and "every site" in listed

    with app.extensions["spamfilter"].sessions() as session:
        row = session.scalars(select(Moderator).where(Moderator.name == "ann")).one()
        assert PASSWORD not in row.password_hash and row.password_hash.startswith("scrypt:")
        assert authenticate(session, "ann", PASSWORD) is not None
        assert authenticate(session, "ann", PASSWORD + "x") is None

    assert runner.invoke(args=["moderators", "delete", "ann"]).exit_code == 0
    assert "ann" not in runner.invoke(args=["moderators", "list"]).output
    missing = runner.invoke(args=["moderators", "delete", "ann"])
    assert missing.exit_code != 0 and "no moderator named" in missing.output


def test_secret_key_is_made_once_and_kept_private(tmp_path: Path) -> None:
    first = instance_secret(str(tmp_path / "instance"))
    path = tmp_path / "instance" / "secret_key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(first) >= 64 and instance_secret(str(tmp_path / "instance")) == first
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]  # no temporary file left


def test_schema_matches_models_after_migrate(database_url: str) -> None:
    """migrate() brings a fresh SQLite file, or the PostgreSQL test database, to the models' schema."""
    engine = make_engine(database_url)
    try:
        migrate(engine)
        migrate(engine)  # a no-op the second time
        with engine.connect() as conn:
            context = MigrationContext.configure(conn)
            assert context.get_current_revision() == "0004"
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_review_indexes_are_used_on_sqlite(tmp_path: Path) -> None:
    """The list's commonest queries read an index, not the whole log (what keeps 100k checks fast)."""
    engine = create_engine(f"sqlite:///{tmp_path / 'plan.sqlite3'}")
    migrate(engine)
    with engine.connect() as conn:

        def plan(sql: str) -> str:
            return " ".join(row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))

        assert "ix_checks_site_created" in plan(
            "SELECT id FROM checks WHERE site = 'a' ORDER BY created_at DESC, id DESC LIMIT 51"
        )
        assert "COVERING INDEX ix_checks_stats" in plan(
            "SELECT date(created_at), verdict, model_version, count(*) FROM checks "
            "WHERE created_at >= '2026-01-01' AND is_test = 0 GROUP BY 1, 2, 3"
        )
        assert "ix_labels_check_guid" in plan("SELECT id FROM labels WHERE check_guid = 'x'")
    engine.dispose()
