"""The review page in a real browser: headless Chromium (Debian's) driven by Playwright.

The real server (serve.py, gunicorn, 2 workers) runs on http://127.0.0.1 with its
default settings, so this also shows that the ``Secure`` session cookie works there
and that both workers accept it (one secret key from the instance folder). Comments
arrive through the Akismet API as a client would send them.

Skipped where Chromium (``apt-get install chromium``) or the ``playwright`` package is
missing; Playwright's own browser downloads are never used.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from servers import Server, running_server, server_env
from sqlalchemy import select

from spamfilter.db import Check, Label, make_engine, make_sessionmaker, migrate
from spamfilter.moderators import create as create_moderator

try:
    from playwright.sync_api import Page, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    pytest.skip("the playwright package is not installed (requirements-dev.txt)", allow_module_level=True)

CHROMIUM = "/usr/bin/chromium"
BLOG = "https://blog.example"
PASSWORD = "browser test password"
HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> see my site'
FINDABLE = "Our quokka-shaped sourdough starter finally rose, thank you for the tips!"

pytestmark = pytest.mark.slow
if not shutil.which(CHROMIUM):
    pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('browser') / 'spamfilter.sqlite3'}"


@pytest.fixture(scope="module")
def server(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    engine = make_engine(database)
    migrate(engine)
    with make_sessionmaker(engine)() as session:
        create_moderator(session, "rosa", PASSWORD)
    engine.dispose()
    with running_server(tmp_path_factory.mktemp("server"), server_env(database)) as server:
        assert server.key, server.output()
        yield server


def logged_check(database: str, server: Server, content: str, author: str) -> str:
    """Send a comment-check and wait for its row (checks are logged in the background)."""
    response = httpx.post(
        f"{server.url}/1.1/comment-check",
        data={
            "api_key": server.key,
            "blog": BLOG,
            "user_ip": "198.51.100.9",
            "comment_type": "comment",
            "comment_author": author,
            "comment_content": content,
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text
    guid = response.headers["X-akismet-guid"]
    engine = make_engine(database)
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with make_sessionmaker(engine)() as session:
                found = session.scalars(select(Check.guid).where(Check.guid == guid)).first()
            if found:
                return found
            time.sleep(0.1)
    finally:
        engine.dispose()
    raise AssertionError(f"the check was not logged:\n{server.output()}")


def stored_labels(database: str) -> dict[str, Label]:
    engine = make_engine(database)
    try:
        with make_sessionmaker(engine)() as session:
            return {row.check_guid: row for row in session.scalars(select(Label))}
    finally:
        engine.dispose()


@pytest.fixture
def dialogs() -> list[str]:
    """Messages of alert()/confirm() dialogs that opened: any would be a comment's script running."""
    return []


@pytest.fixture
def page(server: Server, dialogs: list[str]) -> Iterator[Page]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_context().new_page()
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        try:
            yield page
        finally:
            browser.close()


def sign_in(page: Page, server: Server) -> None:
    page.goto(f"{server.url}/moderate/")
    assert "/moderate/login" in page.url
    page.fill("input[name=name]", "rosa")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_url(f"{server.url}/moderate/")


def test_find_a_comment_and_mark_it_not_spam(page: Page, server: Server, database: str) -> None:
    guid = logged_check(database, server, FINDABLE, "Quinn")
    logged_check(database, server, "Something else entirely", "Other")
    sign_in(page, server)
    cookie = next(c for c in page.context.cookies() if c["name"] == "spamfilter_session")
    assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    page.fill("input[name=q]", "quokka-shaped")
    page.click("form.filters button[type=submit]")
    rows = page.locator("tr.check")
    assert rows.count() == 1
    row = page.locator(f"#check-{guid}")
    assert FINDABLE in row.locator(".content").inner_text()
    assert row.locator(".reasons li").count() >= 1

    # Several page loads, so both gunicorn workers see (and accept) the session.
    for _ in range(4):
        page.reload()
        assert "/moderate/login" not in page.url

    row.get_by_role("button", name="Not spam").click()
    page.wait_for_selector(".flash.ok")
    assert "Marked 1 comment as not spam" in page.inner_text(".flash.ok")
    assert "q=quokka-shaped" in page.url  # back on the same search
    assert "not spam" in page.locator(f"#check-{guid} td.label").inner_text()
    label = stored_labels(database)[guid]
    assert (label.label, label.source, label.submitted_by) == ("ham", "review page", "rosa")

    # Bulk: "select all" (the page's script) then mark the selection spam.
    page.check("input.select-all")
    assert page.is_checked(f"#check-{guid} input[name=guid]")
    page.click("button[name=action][value=spam]")
    page.wait_for_selector(".flash.ok")
    assert stored_labels(database)[guid].label == "spam"


def test_a_script_in_a_comment_is_shown_not_run(page: Page, server: Server, database: str, dialogs: list[str]) -> None:
    guid = logged_check(database, server, HOSTILE, "<b>Mallory</b>")
    sign_in(page, server)
    page.goto(f"{server.url}/moderate/?q=__pwned")
    row = page.locator(f"#check-{guid}")
    assert row.locator(".content").inner_text() == HOSTILE
    assert row.locator(".author").inner_text() == "<b>Mallory</b>"
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator(f"#check-{guid} img, #check-{guid} b").count() == 0
    assert dialogs == []


def test_stats_page_draws_its_chart(page: Page, server: Server, database: str, tmp_path: Path) -> None:
    logged_check(database, server, "A comment for the chart", "Chart")
    sign_in(page, server)
    page.goto(f"{server.url}/moderate/stats?days=7")
    assert int(page.inner_text("#checks-total")) >= 1
    assert page.locator("figure.chart svg rect.bar").count() >= 1
    page.screenshot(path=str(tmp_path / "stats.png"), full_page=True)
    assert (tmp_path / "stats.png").stat().st_size > 0
