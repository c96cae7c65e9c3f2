"""spamfilter: a self-hosted, Akismet-compatible comment spam filter."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify
from sqlalchemy import text as sql  # not `text`: that name is the spamfilter.text module
from sqlalchemy.exc import SQLAlchemyError

from . import akismet_api, cli, json_api
from .checks import CheckService
from .config import defaults
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

    engine = make_engine(app.config["DATABASE_URL"])
    migrate(engine)
    app.extensions["spamfilter.engine"] = engine
    sessions = make_sessionmaker(engine)
    models = ModelHolder(Path(app.config["MODEL_PATH"]), sessions, float(app.config["MODEL_POLL_SECONDS"]))
    app.extensions["spamfilter"] = CheckService(models, sessions, int(app.config["REASONS"]))

    app.register_blueprint(akismet_api.bp)
    app.register_blueprint(json_api.bp)
    app.register_blueprint(cli.bp)

    @app.errorhandler(413)
    def too_large(_exc: Exception) -> Response:
        limit = app.config["MAX_CONTENT_LENGTH"]
        return Response(f"Request body too large: the limit is {limit} bytes.", 413, mimetype="text/plain")

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
                conn.execute(sql("SELECT 1"))
            body["database"] = "ok"
        except SQLAlchemyError as exc:
            body.update(status="degraded", database=f"error: {exc.__class__.__name__}")
        return jsonify(body), 200

    return app
