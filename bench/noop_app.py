"""The no-op baseline of the benchmark: serve.py's gunicorn, serving a Flask app that does nothing.

    python -m bench.noop_app --bind 127.0.0.1:8001 --workers 2     # the same flags as serve.py

The check/no-op throughput ratio is only meaningful if both sides run under the
same server settings (worker class, workers, threads, keep-alive, preload, hooks).
Rather than copy those numbers here, this module runs ``serve.main`` itself with
its gunicorn application class swapped for one whose ``load()`` hands gunicorn the
no-op app: every option serve.py sets, now or after a future change, applies to
both. The master still builds the real app (serve.py needs it for its model check,
first key and post-fork hook), so it needs a database, e.g. a throwaway SQLite file
in ``SPAMFILTER_DATABASE_URL``; the workers never call it.
"""

from __future__ import annotations

import sys

from flask import Flask, Response, request


def make_noop_app() -> Flask:
    """A Flask app whose comment-check parses the form body like a real endpoint must, and answers "false".

    It is the floor any Flask endpoint pays for the same request (WSGI, routing,
    reading and parsing the body, building a response), so check/no-op is the part
    of the cost that spamfilter itself adds.
    """
    app = Flask("spamfilter_noop")

    @app.post("/1.1/comment-check")
    def comment_check() -> Response:
        fields = request.form
        # Touch the fields the real endpoint needs, so the parse cannot be skipped lazily.
        _ = (fields.get("api_key"), fields.get("blog"), fields.get("user_ip"), fields.get("comment_content"))
        return Response("false", mimetype="text/plain")

    @app.get("/healthz")
    def healthz() -> Response:
        return Response('{"status": "ok"}', mimetype="application/json")

    return app


def main(argv: list[str] | None = None) -> int:
    """Run serve.py's main with gunicorn serving the no-op app instead of spamfilter."""
    import serve  # the repository root is on sys.path when run as `python -m bench.noop_app` from it

    noop = make_noop_app()

    class NoopServer(serve.Server):
        """serve.py's gunicorn application, every option kept; only the WSGI app differs."""

        def load(self) -> Flask:
            return noop

    serve.Server = NoopServer  # type: ignore[misc]  # main() looks the class up at call time
    return serve.main(argv)


if __name__ == "__main__":
    sys.exit(main())
