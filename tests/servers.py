"""Start the real server (serve.py under gunicorn) for tests that need one, and drive it."""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent
BLOG = "https://garden.example"  # the site check() and submit() name


class ToServer(httpx.BaseTransport):
    """Send every request to ``base`` (scheme, host, port), keeping path and body."""

    def __init__(self, base: str) -> None:
        self.base = httpx.URL(base)
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(scheme=self.base.scheme, host=self.base.host, port=self.base.port)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@dataclass
class Server:
    url: str
    key: str | None  # the key serve.py printed on first start, if it made one
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPAMFILTER_") and k != "DATABASE_URL"}
    # No rate limit: these tests drive one key hard on purpose (tests/test_operations.py covers limits).
    return {**env, "SPAMFILTER_DATABASE_URL": database_url, "SPAMFILTER_RATE_LIMIT": "", **extra}


@contextlib.contextmanager
def running_server(
    workdir: Path, env: dict[str, str], workers: int = 2, args: tuple[str, ...] = ()
) -> Iterator[Server]:
    port = free_port()
    log = workdir / f"server-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "serve.py", "--bind", f"127.0.0.1:{port}", "--workers", str(workers), *args],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"serve.py exited with {process.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"serve.py did not answer within 60 s:\n{log.read_text()}")
            time.sleep(0.2)
        found = re.search(r"^\s+([a-z0-9]{12})$", log.read_text(), re.M)
        yield Server(url, found.group(1) if found else None, process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def train(env: dict[str, str], *args: str) -> str:
    """Run train.py with ``env`` (a server's settings); its output, after asserting it succeeded."""
    result = subprocess.run(
        [sys.executable, "train.py", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def comment_form(server: Server, content: str, **extra: str) -> dict[str, str | None]:
    """The form of an Akismet call about ``content`` on BLOG, with the server's key."""
    return {
        "api_key": server.key,
        "blog": BLOG,
        "user_ip": "198.51.100.4",
        "comment_author": "Pat",
        "comment_content": content,
        **extra,
    }


def check(server: Server, content: str, **extra: str) -> httpx.Response:
    response = httpx.post(f"{server.url}/1.1/comment-check", data=comment_form(server, content, **extra), timeout=10)
    assert response.status_code == 200 and response.content in (b"true", b"false"), response.text
    return response


def submit(server: Server, kind: str, content: str, guid: str = "") -> None:
    response = httpx.post(f"{server.url}/1.1/submit-{kind}", data=comment_form(server, content, guid=guid), timeout=10)
    assert response.content == b"Thanks for making the web a better place."


def wait_for_model(server: Server, version: str, seconds: float = 15, poll_seconds: float = 1.0) -> None:
    """Until every worker of ``server`` serves ``version``, just made current in the registry.

    Seeing it once means one worker has it; each worker looks again at most ``poll_seconds``
    (the server's MODEL_POLL_SECONDS) after the change, so after that none answers with the old one.
    """
    changed = time.monotonic()
    deadline = changed + seconds
    while check(server, "hello").headers["X-spamfilter-model"] != version:
        if time.monotonic() > deadline:
            pytest.fail(f"server still serves {check(server, 'hello').headers['X-spamfilter-model']}, not {version}")
        time.sleep(0.2)
    time.sleep(max(0.0, changed + poll_seconds + 0.5 - time.monotonic()))


@dataclass
class Traffic:
    failures: list[str] = field(default_factory=list)
    served: dict[str, set[str]] = field(default_factory=dict)  # server URL -> model versions that answered


@contextlib.contextmanager
def steady_traffic(*servers: Server) -> Iterator[Traffic]:
    """Keep comment-checks flowing to ``servers`` in turn while the block runs, noting every failure."""
    traffic, stop = Traffic(), threading.Event()

    def hammer() -> None:
        for server in itertools.cycle(servers):
            if stop.is_set():
                return
            try:
                version = check(server, "Thanks for the pruning guide!").headers["X-spamfilter-model"]
                traffic.served.setdefault(server.url, set()).add(version)
            except Exception as exc:
                traffic.failures.append(f"{server.url}: {exc!r}")

    thread = threading.Thread(target=hammer)
    thread.start()
    try:
        yield traffic
    finally:
        stop.set()
        thread.join()
