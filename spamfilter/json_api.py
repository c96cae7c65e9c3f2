"""A JSON check endpoint for clients that want more than Akismet's true/false.

``POST /api/v1/check`` takes the same fields as comment-check (as a JSON object)
and answers the calibrated score, the verdict, the model version and the reasons.
The key comes as ``Authorization: Bearer KEY`` or an ``api_key`` field.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from .checks import CheckResult, CheckService
from .db import ApiKey
from .errors import RequestError
from .keys import site_allowed
from .model import Model
from .params import Comment, clean_fields

bp = Blueprint("json_api", __name__, url_prefix="/api/v1")


class JsonError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def request_json() -> Any:
    """The JSON body, or None when there is none (also when nested too deeply to parse)."""
    try:
        return request.get_json(silent=True)
    except RecursionError:
        return None


@bp.errorhandler(JsonError)
def json_error(exc: JsonError) -> tuple[Response, int]:
    return jsonify({"error": exc.message}), exc.status


def _fields(body: Any) -> dict[str, str]:
    if not isinstance(body, dict):
        raise JsonError(400, "the body must be a JSON object of comment-check fields")
    pairs: list[tuple[str, str]] = []
    for name, value in body.items():
        if name == "comment_context" and isinstance(value, list):
            pairs += [(f"comment_context[{i}]", str(item)) for i, item in enumerate(value)]
        elif isinstance(value, (str, int, float, bool)):
            pairs.append((name, str(value).lower() if isinstance(value, bool) else str(value)))
    return clean_fields(pairs)


def _key(service: CheckService, fields: dict[str, str]) -> ApiKey:
    auth = request.headers.get("Authorization", "")
    key_text = auth[7:].strip() if auth.lower().startswith("bearer ") else fields.get("api_key", "")
    key = service.find_key(key_text)
    if key is None:
        raise JsonError(401, "missing, unknown or revoked API key")
    return key


def _comment(key: ApiKey, fields: dict[str, str]) -> Comment:
    try:
        comment = Comment.from_fields(fields)
    except RequestError as exc:
        raise JsonError(400, exc.body) from None
    try:
        allowed = site_allowed([s.site for s in key.sites], comment.blog)
    except ValueError:
        raise JsonError(400, f"the blog value {comment.blog!r} is not a valid URL") from None
    if not allowed:
        raise JsonError(403, f"this API key is not allowed for the site {comment.blog!r}")
    return comment


def _result(result: CheckResult, model: Model) -> dict[str, Any]:
    return {
        "guid": result.guid,
        "spam": result.verdict.is_spam,
        "verdict": result.verdict.verdict,
        "score": round(result.verdict.score, 6),
        "threshold": model.threshold,
        "discard_threshold": model.discard_threshold,
        "model_version": result.model_version,
        "rule": result.verdict.rule,
        "reasons": [r.as_dict() for r in result.verdict.reasons],
    }


@bp.post("/check")
def check() -> Response:
    """One comment (a JSON object), or a batch (a JSON list of them) for backfills."""
    service: CheckService = current_app.extensions["spamfilter"]
    body = request_json()
    if body is None:
        raise JsonError(400, "the body must be JSON (Content-Type: application/json)")
    if isinstance(body, list):
        return _check_batch(service, body)
    fields = _fields(body)
    key = _key(service, fields)
    comment = _comment(key, fields)
    [result] = service.check_many(key, [comment])
    return jsonify(_result(result, service.models.model))


def _check_batch(service: CheckService, items: list[Any]) -> Response:
    """Each item answered in order: a result, or ``{"error", "status"}`` for an item that is not valid.

    The key comes from ``Authorization: Bearer`` (or the first item's ``api_key``); one
    bad item does not fail the others.
    """
    limit = int(current_app.config["MAX_BATCH"])
    if not items or len(items) > limit:
        raise JsonError(400, f"a batch holds 1 to {limit} comments, not {len(items)}")
    first = items[0] if isinstance(items[0], dict) else {}
    key = _key(service, _fields(first))
    answers: list[dict[str, Any] | None] = [None] * len(items)
    valid: list[tuple[int, Comment]] = []
    for i, item in enumerate(items):
        try:
            valid.append((i, _comment(key, _fields(item))))
        except JsonError as exc:
            answers[i] = {"error": exc.message, "status": exc.status}
    model = service.models.model
    results = service.check_many(key, [c for _, c in valid]) if valid else []
    for (i, _), result in zip(valid, results, strict=True):
        answers[i] = _result(result, model)
    return jsonify({"results": answers, "model_version": model.version})
