"""Start the real server (serve.py under gunicorn) for tests that need one."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent


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
