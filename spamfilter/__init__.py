"""spamfilter: a self-hosted, Akismet-compatible comment spam filter."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, jsonify, request
from sqlalchemy import text as sql  # not `text`: that name is the spamfilter.text module
from sqlalchemy.exc import SQLAlchemyError

from . import akismet_api, cli, json_api, limits, metrics, moderate, privacy
from .checks import CheckService
from .config import defaults, instance_secret
from .db import make_engine, make_sessionmaker, migrate
from .errors import ModelError
from .registry import ModelHolder


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Application factory: defaults, then ``SPAMFILTER_*`` environment, then ``test_config``."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(defaults(app.instance_path))
    app.config.from_prefixed_env("SPAMFILTER")
    if test_config:
        app.config.update(test_config)
    # Werkzeug caps a single form field at 500 kB by default; the request limit is the cap here.
    app.config["MAX_FORM_MEMORY_SIZE"] = app.config["MAX_CONTENT_LENGTH"]
    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config.get("SECRET_KEY"):  # signs the review page's session cookie
        app.config["SECRET_KEY"] = instance_secret(app.instance_path)

    engine = make_engine(app.config["DATABASE_URL"])
    migrate(engine)
    app.extensions["spamfilter.engine"] = engine
    sessions = make_sessionmaker(engine)
    models = ModelHolder(Path(app.config["MODEL_PATH"]), sessions, float(app.config["MODEL_POLL_SECONDS"]))
    app.extensions["spamfilter"] = CheckService(
        models,
        sessions,
        int(app.config["REASONS"]),
        spool_path=Path(app.config["LABEL_SPOOL"]),
        key_cache_seconds=float(app.config["KEY_CACHE_SECONDS"]),
    )

    @app.before_request
    def _bound_unsized_body() -> None:
        # A chunked body has no Content-Length, and Werkzeug then stops reading at the limit
        # without saying so: a truncated comment would be checked and stored. Read it here
        # (before the rate limiter parses it) and refuse it whole.
        if request.content_length is not None or request.method not in ("POST", "PUT", "PATCH"):
            return
        limit = int(app.config["MAX_CONTENT_LENGTH"])
        data = request.environ["wsgi.input"].read(limit + 1)
        if len(data) > limit:
            abort(413)
        request.environ.update({"wsgi.input": io.BytesIO(data), "CONTENT_LENGTH": str(len(data))})

    app.register_blueprint(akismet_api.bp)
    app.register_blueprint(json_api.bp)
    limits.init_app(app, [akismet_api.bp, json_api.bp])
    metrics.init_app(app)
    app.register_blueprint(cli.bp)
    app.register_blueprint(privacy.bp)
    moderate.init_app(app)  # the review page, with CSRF protection for its forms only

    @app.errorhandler(413)
    def too_large(_exc: Exception) -> Response:
        message = f"Request body too large: the limit is {app.config['MAX_CONTENT_LENGTH']} bytes."
        if request.blueprint == json_api.bp.name:
            return Response(json.dumps({"error": message}), 413, mimetype="application/json")
        return Response(message, 413, mimetype="text/plain")

    @app.errorhandler(SQLAlchemyError)
    def database_unavailable(exc: SQLAlchemyError) -> Response:
        # Checks answer from cached keys and the model; what needs the database says so.
        app.logger.error("database error: %s", exc)
        return Response("The database is unavailable; try again shortly.", 503, mimetype="text/plain")

    @app.get("/healthz")
    def healthz() -> tuple[Response, int]:
        """Ready when a model is loaded; "degraded" when the database or a newer model is not."""
        models = app.extensions["spamfilter"].models
        try:
            body: dict[str, Any] = {"status": "ok", "model_version": models.model.version}
        except ModelError as exc:
            return jsonify({"status": "unavailable", "model_error": str(exc)}), 503
        if models.last_error:
            body.update(status="degraded", model_error=models.last_error)
        try:
            with engine.connect() as conn:
                conn.execute(sql("SELECT version_num FROM alembic_version"))  # the schema, not just a connection
            body["database"] = "ok"
        except SQLAlchemyError as exc:
            body.update(status="degraded", database=f"error: {exc.__class__.__name__}")
        service = app.extensions["spamfilter"]
        body["checks_pending"] = len(service.log.pending)
        body["labels_spooled"] = service.spool.pending()
        if service.log.last_error:
            body.update(status="degraded", check_log_error=service.log.last_error)
        return jsonify(body), 200

    return app
