"""Load benchmark of comment-check against a no-op Flask endpoint under the same gunicorn (issue 6).

    /work/main/.venv/bin/python bench/load.py [--duration 10] [--workers 2] [--connections 16] [--json out.json]

Absolute speeds depend on the machine, so the targets are checked here, in a
measurement run that also measures its own baseline, never as timed assertions in
tests. One run:

1. starts the no-op baseline (``bench/noop_app.py``: serve.py's gunicorn settings,
   a Flask endpoint that only parses the form) and finds its peak throughput with
   ``wrk`` (keep-alive is wrk's default; gunicorn's sync worker may still close);
2. starts the real server (``serve.py``, fresh SQLite database in a temporary
   directory) and finds its peak the same way, with the same ~200 comments;
3. drives the real server at a constant 80% of that peak with an open-loop
   generator (Debian's wrk has no rate option) and records p50/p99 from each
   request's *scheduled* start, so a stalled server cannot hide its queue
   (coordinated omission);
4. reads each worker's RSS, times the model load in a fresh process, and measures
   the batch path (a JSON list to ``/api/v1/check``) if the server has it;
5. prints metric | measured | target | ok?, and optionally writes JSON.

It exits 0 even when a target is missed (it is a measurement), non-zero on errors.
See bench/README.md for what the numbers mean.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import multiprocessing
import os
import random
import re
import resource
import selectors
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parent.parent
CHECK_PATH = "/1.1/comment-check"
BATCH_PATH = "/api/v1/check"

# The targets of issue 6.
TARGET_RATIO = 0.60  # check throughput / no-op throughput
TARGET_CHECKS_PER_S = 1000.0
TARGET_P99_MS = 10.0  # at 80% of the measured peak
PACED_FRACTION = 0.80
LIGHTER_FRACTIONS = (0.5, 0.65)  # the latency curve below the 80% point
TARGET_WORKER_RSS_MB = 150.0
TARGET_MODEL_LOAD_S = 1.0
TARGET_BATCH_PER_S = 5000.0
BATCH_SIZE = 500

WRK_INSTALL = "wrk is not installed; install it with:  sudo apt-get install -y wrk   (Debian/Ubuntu)"


class BenchError(Exception):
    """A failure of the benchmark itself (a server that does not start, a missing tool): exit non-zero."""


# --------------------------------------------------------------------------- payloads

# Short fixture text written for this benchmark; sentences are combined at random so
# the model sees varied lengths and vocabularies rather than one cached comment.
HAM_SENTENCES = [
    "Thanks for writing this up, the part about connection pooling finally made it click for me.",
    "I tried the second approach on our staging box and it cut the build time roughly in half.",
    "Small correction: the flag was renamed in version 3, so the example in step two fails as written.",
    "My grandmother used to make this with brown butter instead, worth a try if you have it.",
    "Does anyone know whether this also works on the older firmware? Mine is from 2019.",
    "Great photos from the hike. Which trail did you take down from the ridge?",
    "We had the same problem with the heat pump last winter; the installer had set the curve too low.",
    "I disagree with the conclusion, but the data section is really well done.",
    "Could you share the config file you used for the benchmark? I would like to reproduce it.",
    "The library closes on Sundays now, so the reading group moved to the cafe on Elm Street.",
    "This is the clearest explanation of the tax changes I have read so far, thank you.",
    "Typo in the third paragraph: it should be 'their', not 'there'.",
    "Our club tested three of these tents in the rain and the cheapest one held up best.",
    "Any plans for a follow-up post on testing? The mocking section felt a bit rushed.",
    "Lovely story. My kids asked me to read it twice at bedtime.",
    "The link to the slides seems broken, it points to last year's talk.",
    "I switched to the manual setting after reading this and the pictures are much sharper.",
    "Happy to help translate the docs into Portuguese if that is useful.",
]
SPAM_SENTENCES = [
    "Buy cheap meds online without prescription, fast discreet shipping worldwide!!!",
    "Earn $5000 per week working from home, click here to start today.",
    "Best online casino bonus 200% on your first deposit, play now and win big.",
    "Great post! Check my site for the best SEO backlinks package, guaranteed page one.",
    "Hot singles in your area are waiting to chat with you tonight.",
    "Replica watches and designer bags at 90% off, limited stock, order now.",
    "Get your crypto doubled in 24 hours with our proven trading bot.",
    "Nice article. Visit my blog for free followers and likes, no password needed.",
    "Lose 30 pounds in 30 days with this one weird trick doctors hate.",
    "Cheap loans approved instantly, bad credit ok, apply in two minutes.",
    "I made $800 yesterday from my laptop, see how on my page.",
    "Download the latest movies free in HD, no registration, unlimited speed.",
]
SPAM_LINKS = [
    "http://cheap-pills.example/buy",
    "https://casino-bonus.example/?ref=1234",
    "http://seo-links.example/package",
    "https://crypto-double.example/start",
    "http://replica-store.example/watches",
]
HAM_NAMES = ["Maria Keller", "Tom", "J. Okafor", "lena_b", "Priya S.", "Dan Whitfield", "Sam", "Ana Lima"]
SPAM_NAMES = ["best seo services", "cheap pills online", "Casino Bonus", "crypto trader", "Loans Fast", "Jenny"]
USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "python-requests/2.31.0",
    "curl/8.5.0",
    "",
]
COMMENT_TYPES = ["comment", "comment", "comment", "reply", "forum-post", "contact-form", "trackback"]
BLOGS = ["https://blog.example", "https://www.garden-notes.example", "https://forum.example/community"]


def make_comments(count: int, seed: int = 6) -> list[dict[str, str]]:
    """``count`` comment-check field sets, about 60% ham and 40% spam-looking, deterministic per seed."""
    rng = random.Random(seed)
    comments = []
    for i in range(count):
        spam = rng.random() < 0.4
        sentences = SPAM_SENTENCES if spam else HAM_SENTENCES
        n = rng.choice([1, 1, 2, 2, 3, 4]) if rng.random() > 0.05 else rng.randint(10, 20)  # a few long ones
        content = " ".join(rng.choice(sentences) for _ in range(n))
        if spam and rng.random() < 0.7:
            content += " " + " ".join(rng.sample(SPAM_LINKS, rng.randint(1, 3)))
        name = rng.choice(SPAM_NAMES if spam else HAM_NAMES)
        blog = rng.choice(BLOGS)
        ip = rng.choice([f"203.0.113.{rng.randint(1, 254)}", f"198.51.100.{rng.randint(1, 254)}", f"2001:db8::{i:x}"])
        comments.append(
            {
                "blog": blog,
                "user_ip": ip,
                "user_agent": rng.choice(USER_AGENTS),
                "referrer": rng.choice([f"{blog}/2024/05/post-{i}/", "https://www.google.com/", ""]),
                "permalink": f"{blog}/2024/05/post-{i % 37}/",
                "comment_type": rng.choice(COMMENT_TYPES),
                "comment_author": name,
                "comment_author_email": f"{name.split()[0].lower()}{i}@mail.example",
                "comment_author_url": rng.choice(SPAM_LINKS) if spam else rng.choice(["", f"https://{i}.example"]),
                "comment_content": content,
            }
        )
    return comments


def form_bodies(comments: list[dict[str, str]], key: str) -> list[str]:
    """Akismet-style url-encoded bodies, the key as ``api_key`` like most clients send it.

    ``comment_content`` comes last, so that :func:`unique_suffix` can be appended to it.
    """
    bodies = []
    for comment in comments:
        fields = {k: v for k, v in comment.items() if k != "comment_content"}
        bodies.append(urlencode({**fields, "api_key": key, "comment_content": comment["comment_content"]}))
    return bodies


def unique_suffix(stream: int, seq: int) -> str:
    """Appended to each request's comment text (url-encoded " [stream-seq]"), making every comment new.

    Real comments are all different, while the server may cache per text (text
    cleaning is memoised): rotating 200 identical bodies would measure cache hits.
    The vocabulary still repeats, as it does in real traffic. The Lua script builds
    the same suffix.
    """
    return f"+%5B{stream}-{seq}%5D"


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# The per-key rate limit stays on, so its cost is measured, but far above what one key sends here:
# the load comes from one key, and a limit it hits would measure 429 answers instead of checks.
BENCH_RATE_LIMIT = "1000000/second"


def bench_env(workdir: Path, database: Path) -> dict[str, str]:
    """The caller's environment (so SPAMFILTER_THREADS etc. still apply), with a throwaway database and
    label spool in ``workdir`` and a rate limit that never refuses."""
    replaced = {"DATABASE_URL", "SPAMFILTER_DATABASE_URL", "SPAMFILTER_LABEL_SPOOL", "SPAMFILTER_RATE_LIMIT"}
    env = {k: v for k, v in os.environ.items() if k not in replaced}
    return {
        **env,
        "SPAMFILTER_DATABASE_URL": f"sqlite:///{database}",
        "SPAMFILTER_LABEL_SPOOL": str(workdir / f"{database.stem}-label-spool.jsonl"),
        "SPAMFILTER_RATE_LIMIT": BENCH_RATE_LIMIT,
        "PYTHONUNBUFFERED": "1",
    }


@dataclass
class Server:
    """A gunicorn master we started, in its own process group so that stopping it takes its workers."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    ready_s: float = 0.0
    key: str | None = None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM to the group (gunicorn's graceful stop), then SIGKILL to whatever is left of it.

        The group, not just the master: a master that died first would leave its workers behind.
        """
        group = self.process.pid  # start_new_session: the master leads its own group
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            self.process.poll()  # reap the master
            try:
                os.killpg(group, 0)  # anyone left in the group?
            except ProcessLookupError:
                return
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
        self.process.wait(timeout=10)


@contextlib.contextmanager
def running(name: str, command: list[str], env: dict[str, str], workdir: Path, port: int) -> Iterator[Server]:
    """Start ``command`` (which binds ``port``), wait for ``/healthz``, and always stop it afterwards."""
    log = workdir / f"{name}.log"
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(name, f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = started + 90
        while True:
            if process.poll() is not None:
                raise BenchError(f"{name} exited with code {process.returncode}:\n{server.output()}")
            try:
                with urllib.request.urlopen(f"{server.url}/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise BenchError(f"{name} did not answer /healthz within 90 s:\n{server.output()}")
            time.sleep(0.1)
        server.ready_s = time.monotonic() - started
        found = re.search(r"^\s+([a-z0-9]{12})$", server.output(), re.M)  # serve.py prints a first key
        server.key = found.group(1) if found else None
        yield server
    finally:
        server.stop()


def server_command(module_or_script: list[str], port: int, workers: int, threads: int | None) -> list[str]:
    command = [sys.executable, *module_or_script, "--bind", f"127.0.0.1:{port}", "--workers", str(workers)]
    return command + (["--threads", str(threads)] if threads else [])


def worker_pids(master: int) -> list[int]:
    """The processes whose parent is ``master`` (gunicorn's workers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces: the parent pid follows the last ')'.
        if int(stat.rpartition(")")[2].split()[1]) == master:
            pids.append(int(entry.name))
    return sorted(pids)


def cpu_seconds(master: int) -> float:
    """User + system CPU of the master and its workers so far (a worker that exits takes its share along)."""
    total = 0
    for pid in [master, *worker_pids(master)]:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / os.sysconf("SC_CLK_TCK")


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS, and PSS (shared copy-on-write pages divided among the processes that share them), in MB."""
    out: dict[str, float] = {}
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    out["rss"] = int(found.group(1)) / 1024 if found else float("nan")
    with contextlib.suppress(OSError):
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        found = re.search(r"^Pss:\s+(\d+) kB", rollup, re.M)
        if found:
            out["pss"] = int(found.group(1)) / 1024
    return out


# --------------------------------------------------------------------------- wrk (peak)

LUA_TEMPLATE = """
-- Generated by bench/load.py: POST the comments in turn, each thread from its own offset.
local bodies = {
%(bodies)s
}
local n = #bodies
local i = 0
local seq = 0
local counter = 0

function setup(thread)
  thread:set("stream", %(stream)d + counter)
  counter = counter + 1
end

function init(args)
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  i = (stream or 0) * 53
end

function request()
  -- Every comment text is new (see unique_suffix in load.py); the no-op gets the same bodies.
  i = i %% n + 1
  seq = seq + 1
  return wrk.format("POST", "%(path)s", nil, bodies[i] .. "+%%5B" .. (stream or 0) .. "-" .. seq .. "%%5D")
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p90_us": %%d, "p99_us": %%d, ' ..
    '"max_us": %%d, "connect": %%d, "read": %%d, "write": %%d, "status": %%d, "timeout": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


@dataclass
class WrkResult:
    """One closed-loop wrk run: as many requests as ``connections`` can keep in flight."""

    requests_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    requests: int
    errors: dict[str, int]
    client_cpu_per_request_ms: float  # wrk's own CPU, for comparison with the constant-rate client


def write_lua(path: Path, bodies: list[str], url_path: str, stream: int) -> None:
    """The wrk script; ``stream`` numbers its first thread, so that no two runs send the same comment."""
    # url-encoded bodies hold no quote or backslash, so a plain Lua string literal is safe.
    path.write_text(LUA_TEMPLATE % {"bodies": ",\n".join(f'"{b}"' for b in bodies), "path": url_path, "stream": stream})


def run_wrk(wrk: str, url: str, script: Path, duration: float, threads: int, connections: int) -> WrkResult:
    command = [
        wrk, "--threads", str(threads), "--connections", str(connections), "--duration", f"{max(1, round(duration))}s",
        "--timeout", "10s", "--latency", "--script", str(script), url,
    ]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)  # the servers are not reaped yet: this is wrk alone
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    found = re.search(r"^WRKJSON (\{.*\})$", result.stdout, re.M)
    if result.returncode != 0 or not found:
        raise BenchError(f"wrk failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")
    raw = json.loads(found.group(1))
    errors = {k: int(raw[k]) for k in ("connect", "read", "write", "status", "timeout")}
    return WrkResult(
        requests_per_s=raw["requests"] / (raw["duration_us"] / 1e6),
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        requests=int(raw["requests"]),
        errors=errors,
        client_cpu_per_request_ms=cpu_s * 1000 / max(1, raw["requests"]),
    )


# --------------------------------------------------------------------------- constant rate (80% of peak)


PACED_STREAM = 999  # suffix stream of the constant-rate load (wrk's threads use 0, 1, 2...)


@dataclass
class PacedResult:
    """An open-loop run: requests scheduled at a fixed rate, latency counted from the schedule."""

    target_rate: float
    achieved_rate: float
    completed: int
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    service_p99_ms: float  # from the moment the request was written: what a closed-loop tool would report
    client_cpu_per_request_ms: float  # the load process's own CPU, taken from the cores the server runs on
    first_quarter_p50_ms: float  # a queue that grows all along (overload) shows as last >> first
    last_quarter_p50_ms: float
    error_samples: list[str] = field(default_factory=list)

    @property
    def overloaded(self) -> bool:
        """The server fell behind the schedule: the rate was not sustainable, the latencies are queueing."""
        growing = self.last_quarter_p50_ms > max(3 * self.first_quarter_p50_ms, 20.0)
        return growing or self.achieved_rate < 0.95 * self.target_rate


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


class _Exchange:
    """One request in flight on one socket."""

    __slots__ = ("due", "k", "out", "received", "reused", "sent", "sock")

    def __init__(self, sock: socket.socket, due: float, k: int, data: bytes, reused: bool) -> None:
        self.sock, self.due, self.k, self.reused = sock, due, k, reused
        self.out = memoryview(data)
        self.received = bytearray()
        self.sent = 0.0


def _response_parts(data: bytearray) -> tuple[int, int, bool] | None:
    """(body start, body end, server closes) once the head is in; None before. Bodies carry Content-Length."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(data[:end]).lower()
    found = re.search(rb"\r\ncontent-length:\s*(\d+)", head)
    closes = re.search(rb"\r\nconnection:\s*close", head) is not None
    return end + 4, end + 4 + (int(found.group(1)) if found else 0), closes


def _paced(host: str, port: int, bodies: list[bytes], rate: float, duration: float, conns: int) -> dict[str, Any]:
    """Send ``rate`` requests/s for ``duration`` s over at most ``conns`` connections at once.

    Request k is due at start + k/rate whether or not earlier ones have finished;
    one that waits for a free connection waits on the clock, as a real visitor
    would. Connections are kept alive unless the server closes them. A bare epoll
    loop rather than asyncio: it shares the server's cores, so it must cost little
    per request (it reports its own CPU time).
    """
    sel = selectors.DefaultSelector()
    idle: list[socket.socket] = []  # kept-alive connections
    waiting: deque[tuple[float, int]] = deque()
    latencies: list[float] = []
    service: list[float] = []
    errors: list[str] = []
    in_flight = 0
    clock = time.perf_counter
    cpu_start = time.process_time()
    start = clock() + 0.05
    total = int(rate * duration)
    k = 0

    def request(n: int) -> bytes:
        body = bodies[n % len(bodies)] + unique_suffix(PACED_STREAM, n).encode()
        head = (
            f"POST {CHECK_PATH} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    def begin(due: float, n: int, retry: bool = False) -> None:
        reused = bool(idle) and not retry
        if reused:
            sock = idle.pop()
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.connect_ex((host, port))  # EINPROGRESS; writable when connected
        sel.register(sock, selectors.EVENT_WRITE, _Exchange(sock, due, n, request(n), reused))

    def finish(ex: _Exchange, error: str | None, keep: bool) -> None:
        nonlocal in_flight
        sel.unregister(ex.sock)
        if error is not None and ex.reused and not ex.received:
            ex.sock.close()  # the server had closed the idle connection: resend on a new one
            begin(ex.due, ex.k, retry=True)
            return
        in_flight -= 1
        if error is None:
            latencies.append(clock() - ex.due)
            service.append(clock() - ex.sent)
        else:
            errors.append(error)
        if keep and error is None:
            idle.append(ex.sock)
        else:
            ex.sock.close()

    give_up = start + duration + 30
    while k < total or in_flight:
        now = clock()
        if now > give_up:  # a server that stopped answering: what is still out counts as failed
            errors += ["no answer within 30 s of the end"] * (in_flight + len(waiting) + total - k)
            break
        while k < total and start + k / rate <= now:
            waiting.append((start + k / rate, k))
            k += 1
        while waiting and in_flight < conns:
            in_flight += 1
            begin(*waiting.popleft())
        timeout = 0.01 if k >= total or waiting else max(0.0, start + k / rate - clock())
        for key, events in sel.select(timeout):  # epoll: with nothing registered, a plain sleep
            ex: _Exchange = key.data
            try:
                if events & selectors.EVENT_WRITE:
                    if not ex.sent:
                        failed = ex.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                        if failed:
                            raise OSError(failed, os.strerror(failed))
                        ex.sent = clock()
                    ex.out = ex.out[ex.sock.send(ex.out) :]
                    if not ex.out:
                        sel.modify(ex.sock, selectors.EVENT_READ, ex)
                if events & selectors.EVENT_READ:
                    chunk = ex.sock.recv(65536)
                    if not chunk:
                        raise ConnectionError("closed before the answer")
                    ex.received += chunk
                    parts = _response_parts(ex.received)
                    if parts is not None and len(ex.received) >= parts[1]:
                        status, body = bytes(ex.received[9:12]), bytes(ex.received[parts[0] : parts[1]])
                        ok = status == b"200" and body in (b"true", b"false")
                        finish(ex, None if ok else f"HTTP {status.decode()} {body[:80]!r}", keep=not parts[2])
            except OSError as exc:
                finish(ex, f"{exc.__class__.__name__}: {exc}", keep=False)
    for key in list(sel.get_map().values()):
        key.fileobj.close()  # type: ignore[union-attr]
    for sock in idle:
        sock.close()
    sel.close()
    return {
        "latencies": latencies,
        "service": service,
        "errors": errors,
        "elapsed": clock() - start,
        "client_cpu_s": time.process_time() - cpu_start,
    }


def _paced_child(conn: Connection, args: tuple[str, int, list[bytes], float, float, int]) -> None:
    """Entry point of the load process (forked): a process of its own, so the parent's GIL cannot delay it."""
    try:
        conn.send(_paced(*args))
    except BaseException as exc:  # report, never hang the parent
        conn.send({"crash": f"{exc.__class__.__name__}: {exc}"})
    finally:
        conn.close()


def run_paced(url: str, bodies: list[str], rate: float, duration: float, conns: int = 64) -> PacedResult:
    host, port = url.removeprefix("http://").split(":")
    ctx = multiprocessing.get_context("fork")  # the parent has no threads at this point
    parent_end, child_end = ctx.Pipe(duplex=False)
    args = (host, int(port), [b.encode() for b in bodies], rate, duration, conns)
    process = ctx.Process(target=_paced_child, args=(child_end, args), name="bench-paced-load")
    process.start()
    child_end.close()
    try:
        if not parent_end.poll(duration + 60):
            raise BenchError("the constant-rate load process did not finish")
        raw = parent_end.recv()
    finally:
        if process.is_alive():
            process.terminate()
        process.join(5)
    if "crash" in raw:
        raise BenchError(f"the constant-rate load process failed: {raw['crash']}")
    in_order = [x * 1000 for x in raw["latencies"]]  # completion order, about the schedule's
    quarter = max(1, len(in_order) // 4)
    lat = sorted(in_order)
    svc = sorted(x * 1000 for x in raw["service"])
    return PacedResult(
        target_rate=rate,
        achieved_rate=len(lat) / raw["elapsed"],
        completed=len(lat),
        errors=len(raw["errors"]),
        p50_ms=percentile(lat, 50),
        p90_ms=percentile(lat, 90),
        p99_ms=percentile(lat, 99),
        p999_ms=percentile(lat, 99.9),
        max_ms=lat[-1] if lat else float("nan"),
        service_p99_ms=percentile(svc, 99),
        client_cpu_per_request_ms=raw["client_cpu_s"] * 1000 / max(1, len(lat) + len(raw["errors"])),
        first_quarter_p50_ms=percentile(sorted(in_order[:quarter]), 50),
        last_quarter_p50_ms=percentile(sorted(in_order[-quarter:]), 50),
        error_samples=raw["errors"][:5],
    )


# --------------------------------------------------------------------------- single requests, batch, model load


def post(url: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        conn.request("POST", path, body=body, headers=headers)
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


_CHECK_BUCKET = re.compile(
    r"^spamfilter_request_seconds_bucket\{"
    r'(?=[^}]*endpoint="akismet\.comment_check")[^}]*le="([^"]+)"[^}]*\} (\S+)$',
    re.M,
)


def server_latency_buckets(url: str) -> dict[float, float]:
    """Cumulative counts of comment-check's ``spamfilter_request_seconds`` histogram (all workers).

    The server's own view of a request, from its first hook to its answer: no queueing
    before a worker picks the request up, and no time in the load client.
    """
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    buckets: dict[float, float] = {}
    for found in _CHECK_BUCKET.finditer(text):
        bound = math.inf if found.group(1) == "+Inf" else float(found.group(1))
        buckets[bound] = buckets.get(bound, 0.0) + float(found.group(2))
    return buckets


def server_p99_bound_ms(before: dict[float, float], after: dict[float, float]) -> float:
    """The histogram bucket (upper bound, ms) that holds the 99th percentile of the requests between two reads."""
    diff = {b: after.get(b, 0.0) - before.get(b, 0.0) for b in after}
    total = diff.get(math.inf, 0.0)
    if total <= 0:
        return math.nan
    return next(b * 1000 for b in sorted(diff) if diff[b] >= 0.99 * total)


VERIFIED = 5  # requests verify_answers sends
VERIFY_STREAM = 998


def verify_answers(url: str, bodies: list[str]) -> None:
    """A wrong key answers 200 "invalid": make sure the load measures real checks, not refusals.

    wrk counts any 200 as a success, so the bodies are checked here, as the load sends them.
    """
    for i, body in enumerate(bodies[:VERIFIED]):
        data = (body + unique_suffix(VERIFY_STREAM, i)).encode()
        status, answer = post(url, CHECK_PATH, data, {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 200 or answer not in (b"true", b"false"):
            raise BenchError(f"{url}{CHECK_PATH} answered {status} {answer[:200]!r} instead of true/false")


def logged_checks(database: Path, expected: int, settle: float = 15.0) -> int:
    """Rows in the checks table once the server's log has caught up with ``expected``, or stopped growing.

    A server that answers fast by queueing its log must still write it all; a
    shortfall means dropped rows (or a log still far behind the answers).
    """
    deadline, last, last_change = time.monotonic() + settle, -1, time.monotonic()
    while True:
        with contextlib.closing(sqlite3.connect(database, timeout=10)) as conn:
            count = int(conn.execute("SELECT count(*) FROM checks").fetchone()[0])
        now = time.monotonic()
        if count != last:
            last, last_change = count, now
        if count >= expected or now > deadline or now - last_change > 3:
            return count
        time.sleep(0.2)


@dataclass
class BatchResult:
    available: bool
    note: str = ""
    comments_per_s: float = float("nan")
    requests: int = 0
    p50_request_ms: float = float("nan")


def _batch_answers(answer: bytes) -> tuple[int, int] | None:
    """(verdicts, items answered with an error) in a batch answer: a list, or a dict holding one
    (``{"results": [...]}``); None when the answer has no list at all."""
    try:
        data = json.loads(answer)
    except ValueError:
        return None
    if isinstance(data, dict):
        data = data.get("results", next((v for v in data.values() if isinstance(v, list)), None))
    if not isinstance(data, list):
        return None
    errors = sum(1 for item in data if not isinstance(item, dict) or "error" in item)
    return len(data), errors


def batch_body(seq: int) -> bytes:
    """A JSON list of BATCH_SIZE comments, each text new (see :func:`unique_suffix`)."""
    comments = make_comments(BATCH_SIZE, seed=7)
    return json.dumps(
        [{**c, "comment_content": f"{c['comment_content']} [b{seq}-{i}]"} for i, c in enumerate(comments)]
    ).encode()


def run_batch(url: str, key: str, duration: float, clients: int) -> BatchResult:
    """POST lists of BATCH_SIZE comments from ``clients`` threads (one per worker) for about ``duration`` s."""
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    status, answer = post(url, BATCH_PATH, batch_body(0), headers)
    if status == 400:
        return BatchResult(False, "batch path: not available (a JSON list gets HTTP 400)")
    if status != 200:
        return BatchResult(False, f"batch path: HTTP {status}: {answer[:200]!r}")
    counted = _batch_answers(answer)
    if counted is None or counted != (BATCH_SIZE, 0):
        return BatchResult(False, f"batch path: unexpected answer to {BATCH_SIZE} comments: {answer[:200]!r}")

    bodies = [batch_body(seq) for seq in range(1, 1 + 64)]  # made before the clock starts
    times: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + duration
    sent = iter(bodies)

    def client() -> None:
        done = 0
        while done < 3 or time.monotonic() < stop_at:  # at least 3 requests per client
            with lock:
                body = next(sent, None)
            if body is None:
                return
            started = time.monotonic()
            status, answer = post(url, BATCH_PATH, body, headers)
            counted = _batch_answers(answer) if status == 200 else None
            with lock:
                if counted == (BATCH_SIZE, 0):
                    times.append(time.monotonic() - started)
                else:
                    failures.append(f"HTTP {status}: {answer[:120]!r}")
            done += 1
            if failures:
                return

    started = time.monotonic()
    threads = [threading.Thread(target=client, name=f"batch-{i}") for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - started
    if failures:
        return BatchResult(False, f"batch path: failed under load: {failures[0]}")
    return BatchResult(
        True,
        f"{len(times)} requests of {BATCH_SIZE}",
        comments_per_s=len(times) * BATCH_SIZE / wall,
        requests=len(times),
        p50_request_ms=percentile(sorted(times), 50) * 1000,
    )


MODEL_LOAD_CODE = """
import json, os, time
from pathlib import Path
t0 = time.perf_counter()
from spamfilter import model
from spamfilter.config import DEFAULT_MODEL_PATH
t1 = time.perf_counter()
path = Path(os.environ.get("SPAMFILTER_MODEL_PATH") or DEFAULT_MODEL_PATH)
m = model.load(path)
t2 = time.perf_counter()
m.score([{"content": "hello there", "author": "a", "email": "", "url": "", "user_agent": "", "referrer": "",
          "user_ip": "203.0.113.1", "comment_type": "comment", "permalink": "", "blog": "https://b.example"}],
        reasons=5)
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "first_score_s": t3 - t2,
                  "path": str(path), "size_mb": path.stat().st_size / 2**20}))
"""


def time_model_load() -> dict[str, Any]:
    """The shipped model's load in a fresh interpreter, as a worker or a model swap pays it."""
    result = subprocess.run(
        [sys.executable, "-c", MODEL_LOAD_CODE], cwd=REPO, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise BenchError(f"timing the model load failed:\n{result.stderr}")
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


# --------------------------------------------------------------------------- report


@dataclass
class Row:
    metric: str
    measured: str
    target: str = ""
    ok: bool | None = None  # None: informational


def table(rows: list[Row]) -> str:
    cells = [("metric", "measured", "target", "ok?")] + [
        (r.metric, r.measured, r.target, "" if r.ok is None else ("yes" if r.ok else "NO")) for r in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(4)]
    lines = [" | ".join(c[i].ljust(widths[i]) for i in range(4)).rstrip() for c in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def errors_text(errors: dict[str, int]) -> str:
    bad = {k: v for k, v in errors.items() if v}
    return "none" if not bad else ", ".join(f"{k} {v}" for k, v in bad.items())


# --------------------------------------------------------------------------- main


BUSY_LOAD = 0.5  # a 1-minute load average above this before the run means other work shares the cores


def load_average() -> float:
    """The 1-minute load average: other work on these cores slows both servers and the client."""
    return os.getloadavg()[0]


STEADY_SLOW = 2.0  # a run of the fixed work slower than this multiple of the median counts as a slow burst


def _fixed_work() -> int:
    """About 0.3 ms of pure-Python arithmetic: the same instructions every time."""
    total = 0
    for i in range(12_000):
        total += i * i
    return total


def cpu_steadiness(seconds: float = 5.0, every: float = 0.005) -> dict[str, float]:
    """How evenly this machine runs the same work while idle: the spread behind latency at a busy load.

    On a virtual machine the cores a guest sees can slow down for tens of milliseconds
    (other guests, the host), and the guest counts that as its own CPU time. At 80% of
    peak a server has no room to absorb such a burst, so its queue, and the p99, grows
    without anything in spamfilter changing. Measured before the servers start, so it
    takes nothing from them.
    """
    runs: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.thread_time()
        _fixed_work()
        runs.append(time.thread_time() - started)
        time.sleep(every)
    runs.sort()
    median = percentile(runs, 50)
    return {
        "median_ms": median * 1000,
        "p99_over_median": percentile(runs, 99) / median,
        "max_over_median": runs[-1] / median,
        "slow_share": sum(r > STEADY_SLOW * median for r in runs) / len(runs),
    }


def measure(args: argparse.Namespace, wrk: str, workdir: Path) -> tuple[list[Row], dict[str, Any]]:
    comments = make_comments(args.comments)
    results: dict[str, Any] = {"settings": {k: v for k, v in vars(args).items() if k != "json"}}
    results["load_average_before"] = load_avg_before = load_average()
    if load_avg_before > BUSY_LOAD:
        print(f"warning: load average {load_avg_before:.2f} before the run: other processes share these cores")
    print("machine steadiness (5 s of fixed work, idle) ...", flush=True)
    results["cpu_steadiness"] = steady = cpu_steadiness()
    script = workdir / "check.lua"

    def peak(server: Server, bodies: list[str]) -> tuple[WrkResult, WrkResult, float]:
        """(warm-up, measured, server CPU ms per request): the warm-up fills caches and starts lazy
        threads, unmeasured. Server CPU per request depends much less than throughput on other work."""
        write_lua(script, bodies, CHECK_PATH, stream=0)
        warm = run_wrk(wrk, server.url, script, args.warmup, args.wrk_threads, args.connections)
        write_lua(script, bodies, CHECK_PATH, stream=args.wrk_threads)
        cpu = cpu_seconds(server.process.pid)
        measured = run_wrk(wrk, server.url, script, args.duration, args.wrk_threads, args.connections)
        cpu = cpu_seconds(server.process.pid) - cpu
        return warm, measured, cpu * 1000 / max(1, measured.requests)

    # 1. The no-op baseline, under serve.py's own gunicorn settings.
    port = free_port()
    noop_cmd = server_command(["-m", "bench.noop_app"], port, args.workers, args.threads)
    env = bench_env(workdir, workdir / "noop.sqlite3")
    with running("noop", noop_cmd, env, workdir, port) as noop:
        bodies = form_bodies(comments, noop.key or "nokey0000000")
        verify_answers(noop.url, bodies)
        print(f"no-op server ready in {noop.ready_s:.1f} s; measuring peak for {args.duration:g} s ...", flush=True)
        _, noop_peak, noop_cpu_ms = peak(noop, bodies)
    results["noop_peak"] = asdict(noop_peak)
    results["noop_server_cpu_ms_per_request"] = noop_cpu_ms

    # 2. The real server, fresh database; its first start prints the key it created.
    port = free_port()
    database = workdir / "spamfilter.sqlite3"
    env = bench_env(workdir, database)
    with running(
        "spamfilter", server_command(["serve.py"], port, args.workers, args.threads), env, workdir, port
    ) as real:
        if not real.key:
            raise BenchError(f"serve.py printed no API key on first start:\n{real.output()}")
        bodies = form_bodies(comments, real.key)
        verify_answers(real.url, bodies)
        print(f"spamfilter ready in {real.ready_s:.1f} s; measuring peak for {args.duration:g} s ...", flush=True)
        check_warm, check_peak, check_cpu_ms = peak(real, bodies)
        results["check_server_cpu_ms_per_request"] = check_cpu_ms
        if check_peak.errors["status"]:
            tail = "\n".join(real.output().splitlines()[-20:])
            print(f"warning: {check_peak.errors['status']} answers >= 400 at peak; server log ends:\n{tail}")
        results["check_peak"] = asdict(check_peak)

        # 3. Constant rate at 80% of the measured peak, after lighter loads for the latency curve.
        lighter = {}
        for fraction in LIGHTER_FRACTIONS:
            time.sleep(1.0)
            light_rate = fraction * check_peak.requests_per_s
            print(
                f"constant rate {light_rate:.0f}/s ({fraction:.0%} of peak) for {args.duration / 2:g} s ...", flush=True
            )
            lighter[fraction] = run_paced(real.url, bodies, light_rate, args.duration / 2)
        results["check_paced_lighter"] = {f"{f:.2f}": asdict(r) for f, r in lighter.items()}
        rate = PACED_FRACTION * check_peak.requests_per_s
        time.sleep(1.0)  # let the server finish what wrk left in flight (its log too) before the clock starts
        print(f"constant rate {rate:.0f}/s for {args.duration:g} s ...", flush=True)
        buckets_before = server_latency_buckets(real.url)
        paced = run_paced(real.url, bodies, rate, args.duration)
        server_p99 = server_p99_bound_ms(buckets_before, server_latency_buckets(real.url))
        results["check_paced_server_p99_bound_ms"] = server_p99
        results["check_paced"] = {**asdict(paced), "overloaded": paced.overloaded}

        # 4. Memory of the workers after the load.
        memory = {pid: memory_mb(pid) for pid in worker_pids(real.process.pid)}
        if not memory:
            raise BenchError("found no gunicorn worker processes under the master")
        results["workers_memory_mb"] = {str(pid): m for pid, m in memory.items()}
        results["master_memory_mb"] = memory_mb(real.process.pid)

        # Every answered check must be logged (the log may be written behind the answers).
        answered = VERIFIED + sum(r.requests - r.errors["status"] for r in (check_warm, check_peak))
        answered += paced.completed + sum(r.completed for r in lighter.values())
        logged = logged_checks(database, answered)
        results["checks_answered"], results["checks_logged"] = answered, logged

        # 5. The batch path, if the server has it.
        print("batch path ...", flush=True)
        batch_cpu = cpu_seconds(real.process.pid)
        batch = run_batch(real.url, real.key, max(3.0, args.duration / 2), args.workers)
        batch_cpu = cpu_seconds(real.process.pid) - batch_cpu
        results["batch"] = asdict(batch)
        results["server_ready_s"] = real.ready_s

    results["load_average_after"] = load_average()  # includes this run's own load
    model = time_model_load()
    results["model"] = model

    ratio = check_peak.requests_per_s / noop_peak.requests_per_s
    rss = [m["rss"] for m in memory.values()]
    max_rss = max(rss)
    pss = [m["pss"] for m in memory.values() if "pss" in m]
    results["ratio_check_noop"] = ratio
    rows = [
        Row("no-op throughput (peak, baseline)", f"{noop_peak.requests_per_s:,.0f} req/s"),
        Row("no-op latency p50 / p99 (peak, wrk)", f"{noop_peak.p50_ms:.2f} / {noop_peak.p99_ms:.2f} ms"),
        Row(
            "check throughput (peak)",
            f"{check_peak.requests_per_s:,.0f} req/s",
            f">= {TARGET_CHECKS_PER_S:,.0f}/s",
            check_peak.requests_per_s >= TARGET_CHECKS_PER_S,
        ),
        Row("ratio check / no-op", f"{ratio:.1%}", f">= {TARGET_RATIO:.0%}", ratio >= TARGET_RATIO),
        Row(
            "server CPU per request (no-op / check)",
            f"{noop_cpu_ms:.2f} / {check_cpu_ms:.2f} ms (ratio {noop_cpu_ms / check_cpu_ms:.1%})",
        ),
        Row("check latency p50 / p99 (peak, wrk)", f"{check_peak.p50_ms:.2f} / {check_peak.p99_ms:.2f} ms"),
        Row(
            "constant rate (80% of check peak)",
            f"{paced.achieved_rate:,.0f} of {paced.target_rate:,.0f} req/s"
            + (" (OVERLOADED: the queue grew)" if paced.overloaded else ""),
        ),
        Row(
            "load client CPU per request (wrk / paced)",
            f"{check_peak.client_cpu_per_request_ms:.3f} / {paced.client_cpu_per_request_ms:.3f} ms",
        ),
        Row("check latency p50 at 80%", f"{paced.p50_ms:.2f} ms"),
        Row(
            "check latency p99 at 80%",
            f"{paced.p99_ms:.2f} ms",
            f"<= {TARGET_P99_MS:g} ms",
            paced.p99_ms <= TARGET_P99_MS,
        ),
        Row("check latency p99.9 / max at 80%", f"{paced.p999_ms:.2f} / {paced.max_ms:.2f} ms"),
        Row("server's own time p99 at 80% (/metrics)", f"<= {server_p99:g} ms (histogram bucket)"),
        Row(
            "check latency p99 at " + " / ".join(f"{f:.0%}" for f in lighter) + " of peak",
            " / ".join(f"{r.p99_ms:.2f}" for r in lighter.values())
            + " ms (at "
            + " / ".join(f"{r.achieved_rate:,.0f}" for r in lighter.values())
            + " req/s)",
        ),
        Row(
            "worker RSS (largest of workers)",
            f"{max_rss:.0f} MB (each: {', '.join(f'{r:.0f}' for r in rss)})",
            f"<= {TARGET_WORKER_RSS_MB:g} MB",
            max_rss <= TARGET_WORKER_RSS_MB,
        ),
        Row("worker PSS (shared pages split)", ", ".join(f"{p:.0f}" for p in pss) + " MB" if pss else "n/a"),
        Row(
            "model load (fresh process)",
            f"{model['load_s']:.2f} s (+{model['import_s']:.2f} s imports)",
            f"<= {TARGET_MODEL_LOAD_S:g} s",
            model["load_s"] <= TARGET_MODEL_LOAD_S,
        ),
    ]
    if batch.available:
        rows.append(
            Row(
                f"batch path ({BATCH_SIZE}/request)",
                f"{batch.comments_per_s:,.0f} comments/s (p50 {batch.p50_request_ms:,.0f} ms/request)",
                f">= {TARGET_BATCH_PER_S:,.0f}/s",
                batch.comments_per_s >= TARGET_BATCH_PER_S,
            )
        )
        # The server's CPU per comment, and what it allows if the server had every core to itself.
        per_comment = batch_cpu / ((batch.requests + 1) * BATCH_SIZE)  # + the first batch, which checks the answer
        results["batch_server_cpu_ms_per_comment"] = per_comment * 1000
        rows.append(
            Row(
                "batch: server CPU per comment (ceiling)",
                f"{per_comment * 1e6:.0f} us ({(os.cpu_count() or 1) / per_comment:,.0f}/s with all cores, no client)",
            )
        )
    else:
        rows.append(Row("batch path", batch.note.removeprefix("batch path: "), f">= {TARGET_BATCH_PER_S:,.0f}/s"))
    rows.append(
        Row(
            "load errors (no-op / check / paced)",
            f"{errors_text(noop_peak.errors)} / {errors_text(check_peak.errors)} / {paced.errors}",
        )
    )
    rows.append(
        Row(
            "checks logged / answered (single checks)",
            f"{logged:,} / {answered:,}",
            "all",  # wrk does not count the requests in flight when it stops, so a few more may be logged
            logged >= answered,
        )
    )
    rows.append(
        Row(
            "machine load average before the run",
            f"{load_avg_before:.2f}" + (" (busy: speeds are understated)" if load_avg_before > BUSY_LOAD else ""),
            "~0",
        )
    )
    rows.append(
        Row(
            "machine steadiness: fixed work p99 / median",
            f"{steady['p99_over_median']:.1f}x (max {steady['max_over_median']:.1f}x; "
            f"{steady['slow_share']:.1%} of runs over {STEADY_SLOW:g}x)",
            "~1x",
        )
    )
    if paced.error_samples:
        results["paced_error_samples"] = paced.error_samples
    return rows, results


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measured phase (default 10)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers for both servers (default 2)")
    parser.add_argument("--threads", type=int, default=None, help="threads per worker (default: serve.py's)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections for the peak (default 16)")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of unmeasured load first (default 2)")
    parser.add_argument("--comments", type=int, default=200, help="distinct comments to rotate (default 200)")
    parser.add_argument("--json", type=Path, help="also write every measurement to this JSON file")
    return parser.parse_args(argv)


def _terminate(signum: int, _frame: Any) -> None:
    """SIGTERM/SIGHUP unwind like Ctrl-C, so every `finally` stops the servers we started."""
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wrk = shutil.which("wrk")
    if wrk is None:
        print(WRK_INSTALL, file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    try:
        with tempfile.TemporaryDirectory(prefix="spamfilter-bench-") as tmp:
            rows, results = measure(args, wrk, Path(tmp))
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted; servers stopped", file=sys.stderr)
        return 130
    print()
    print(
        f"spamfilter load benchmark: {args.workers} workers, {os.cpu_count()} CPUs, loopback, {args.duration:g} s/phase"
    )
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
