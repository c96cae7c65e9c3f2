"""Prometheus metrics at ``/metrics``: requests, latency, verdicts, labels, model version.

Under gunicorn each worker is a process; ``serve.py`` sets ``PROMETHEUS_MULTIPROC_DIR``
so that ``/metrics``, whichever worker answers it, adds up all of them.
"""

from __future__ import annotations

import os
import time

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import generate_latest as render
from prometheus_client.multiprocess import MultiProcessCollector

REQUESTS = Counter("spamfilter_requests", "HTTP requests by endpoint and status code.", ["endpoint", "status"])
LATENCY = Histogram(
    "spamfilter_request_seconds",
    "Time to answer a request, by endpoint.",
    ["endpoint"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
VERDICTS = Counter("spamfilter_verdicts", "Checks by verdict (spam, ham, discard).", ["verdict"])
LABELS = Counter("spamfilter_labels", "Moderator labels received, by label and source.", ["label", "source"])
MODEL = Gauge(
    "spamfilter_model_version_info",
    "1 for the model version each process serves.",
    ["version"],
    multiprocess_mode="liveall",
)

_served: list[str] = []  # the version this process last reported


def model_served(version: str) -> None:
    """Report the serving model version (cheap when unchanged: called on every check)."""
    if _served[-1:] != [version]:
        if _served:  # (clear() is not available in multiprocess mode)
            MODEL.labels(_served[-1]).set(0)
        MODEL.labels(version).set(1)
        _served[:] = [version]


def init_app(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.pop("metrics_started", None)
        endpoint = request.endpoint or "unknown"
        if started is not None:
            LATENCY.labels(endpoint).observe(time.perf_counter() - started)
        REQUESTS.labels(endpoint, str(response.status_code)).inc()
        return response

    @app.get("/metrics")
    def metrics() -> Response:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
        else:
            registry = REGISTRY
        return Response(render(registry), content_type=CONTENT_TYPE_LATEST)
