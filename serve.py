"""Start spamfilter under gunicorn on its embedded defaults (SQLite, the shipped model).

    python serve.py                      # 127.0.0.1:8000, 2 workers
    python serve.py --bind 0.0.0.0:8080 --workers 4

On the first start with no API key it creates one for any site and prints it.
Settings come from the environment (``SPAMFILTER_*``, ``DATABASE_URL``); see README.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication


class Server(BaseApplication):
    """gunicorn with its settings given here rather than in a config file."""

    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


# How long a thread may keep the GIL while another waits for it (Python's default: 5 ms).
# Scoring releases the GIL many times (NumPy), and each time the check log's writer may
# take it and keep it for up to this long. With a second thread always busy, scoring one
# comment took 44 ms on average at 5 ms and 2.5 ms at 0.2 ms (0.66 ms alone).
SWITCH_INTERVAL = 0.0002


def _post_fork(_server: Any, _worker: Any) -> None:
    # Connections opened before the fork must not be shared between workers.
    _server.app.application.extensions["spamfilter.engine"].dispose(close=False)
    sys.setswitchinterval(SWITCH_INTERVAL)


def _worker_exit(server: Any, _worker: Any) -> None:
    # Checks are logged in the background: write what is queued before the worker goes.
    server.app.application.extensions["spamfilter"].log.flush(timeout=10.0)


def _child_exit(_server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def metrics_dir() -> None:
    """Let every worker's metrics add up in /metrics (prometheus-client's multiprocess mode).

    Must be set before the metrics are created, so before spamfilter is imported.
    A fresh folder per run (prometheus-client requires it empty at start), removed at exit.
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    folder, master = tempfile.mkdtemp(prefix="spamfilter-metrics-"), os.getpid()

    def remove() -> None:
        if os.getpid() == master:  # not when a forked worker exits
            shutil.rmtree(folder, ignore_errors=True)

    atexit.register(remove)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder


def parse_duration(text: str) -> float:
    """Seconds in ``90``, ``30s``, ``15m``, ``24h`` or ``7d``."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if not found or float(found.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 30m, 24h, 7d)")
    return float(found.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[found.group(2)]


class RetrainScheduler(threading.Thread):
    """Runs ``train.py`` every ``every`` seconds in a child process.

    It lives in gunicorn's master, so there is one per node however many workers run;
    across nodes, train.py's database lock lets one of them train at a time. A crash
    of the child cannot touch the server, and the server keeps serving throughout.
    """

    def __init__(self, every: float) -> None:
        super().__init__(name="retrain-scheduler", daemon=True)
        self.every = every
        self.stopped = threading.Event()

    def run(self) -> None:
        script = Path(__file__).resolve().parent / "train.py"
        while not self.stopped.wait(self.every):
            print("spamfilter: scheduled retraining starts", flush=True)
            result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=False)
            for line in (result.stdout + result.stderr).splitlines():
                print(f"retrain: {line}", flush=True)
            print(f"spamfilter: scheduled retraining ended with exit code {result.returncode}", flush=True)


def retention_loop(app: Flask, every: float = 3600.0) -> None:
    """Apply RETENTION_DAYS hourly, in the master only (one per node; the UPDATE is idempotent)."""
    from spamfilter.privacy import apply_retention

    days, mode = int(app.config["RETENTION_DAYS"]), str(app.config["RETENTION_MODE"])
    while True:
        try:
            with app.extensions["spamfilter"].sessions() as session:
                changed = apply_retention(session, days, mode)
            if changed:
                print(f"spamfilter: retention: {mode} {changed} logged checks older than {days} days", flush=True)
        except Exception as exc:  # the database may be away; try again next hour
            print(f"spamfilter: retention failed: {exc}", flush=True)
        time.sleep(every)


def ensure_key(app: Flask) -> None:
    from spamfilter.keys import ANY_SITE, active_key_count, create_key

    with app.extensions["spamfilter"].sessions() as session:
        if active_key_count(session):
            return
        key = create_key(session, [ANY_SITE], label="created on first start")
    print(
        f"\nNo API key existed, so one was created for any site:\n\n    {key}\n\n"
        "Restrict keys to sites with: flask --app spamfilter keys create --site https://your.blog\n",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bind", default=os.environ.get("SPAMFILTER_BIND", "127.0.0.1:8000"))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("SPAMFILTER_WORKERS", "2")))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("SPAMFILTER_THREADS", "1")))
    parser.add_argument(
        "--retrain-every",
        type=parse_duration,
        default=os.environ.get("SPAMFILTER_RETRAIN_EVERY"),
        help="run train.py on this schedule (30m, 24h, 7d); off by default",
    )
    args = parser.parse_args(argv)
    if isinstance(args.retrain_every, str):  # a default from the environment is not parsed by argparse
        args.retrain_every = parse_duration(args.retrain_every)

    metrics_dir()
    from spamfilter import create_app  # after metrics_dir: metrics are created on import
    from spamfilter.errors import ModelError

    app = create_app()
    try:
        model = app.extensions["spamfilter"].models.model  # load before forking: shared, and fails early
    except ModelError as exc:
        print(f"spamfilter: cannot start: {exc}", file=sys.stderr)
        return 2
    ensure_key(app)
    database = app.config["DATABASE_URL"]
    print(f"spamfilter: model {model.version}, database {database}, on http://{args.bind}", flush=True)
    # Everything loaded so far (libraries, the model: ~180k objects) lives as long as the
    # server. Freezing it keeps the cyclic garbage collector from scanning it again: a full
    # collection took ~100 ms, a stall for every request in flight, and its reference-count
    # writes would copy the pages the forked workers share with this process.
    gc.collect()
    gc.freeze()

    def when_ready(_server: Any) -> None:
        if args.retrain_every:
            print(f"spamfilter: retraining every {args.retrain_every:g} s", flush=True)
            RetrainScheduler(args.retrain_every).start()
        if int(app.config["RETENTION_DAYS"]) > 0:
            threading.Thread(target=retention_loop, args=(app,), name="retention", daemon=True).start()

    Server(
        app,
        {
            "when_ready": when_ready,
            "bind": args.bind,
            "workers": args.workers,
            "threads": args.threads,
            "preload_app": True,
            "post_fork": _post_fork,
            "worker_exit": _worker_exit,
            "child_exit": _child_exit,
            "accesslog": os.environ.get("SPAMFILTER_ACCESS_LOG"),
            "keepalive": 5,
        },
    ).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
