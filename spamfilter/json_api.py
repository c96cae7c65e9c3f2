"""A JSON check endpoint for clients that want more than Akismet's true/false.

``POST /api/v1/check`` takes the same fields as comment-check (as a JSON object)
and answers the calibrated score, the verdict, the model version and the reasons.
The key comes as ``Authorization: Bearer KEY`` or an ``api_key`` field.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from .checks import CheckService
from .errors import RequestError
from .keys import find_key, site_allowed
from .params import Comment, clean_fields

bp = Blueprint("json_api", __name__, url_prefix="/api/v1")


class JsonError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


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


@bp.post("/check")
def check() -> Response:
    service: CheckService = current_app.extensions["spamfilter"]
    body = request.get_json(silent=True)
    if body is None:
        raise JsonError(400, "the body must be JSON (Content-Type: application/json)")
    fields = _fields(body)
    auth = request.headers.get("Authorization", "")
    key_text = auth[7:].strip() if auth.lower().startswith("bearer ") else fields.get("api_key", "")
    with service.sessions() as session:
        key = find_key(session, key_text)
    if key is None:
        raise JsonError(401, "missing, unknown or revoked API key")
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
    result = service.check(key, comment)
    model = service.models.model
    return jsonify(
        {
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
    )
