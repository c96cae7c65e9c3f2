"""Akismet's REST API (``/1.1/...`` and ``/1.2/...``), byte-compatible with its clients.

Every Akismet-level outcome is HTTP 200 with an exact plain body; errors say why
in ``X-akismet-debug-help``, which is never sent on success (@cedx/akismet throws
whenever it is present). See ../shared/AKISMET_API.md.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, g, request
from sqlalchemy import case, func, select

from .checks import CheckService
from .config import service_hosts
from .db import ApiKey, Check, Label, utcnow
from .errors import RequestError
from .keys import site_allowed
from .params import Comment, parse_form, request_key

bp = Blueprint("akismet", __name__)

THANKS = "Thanks for making the web a better place."


def text(body: str, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status=200, mimetype="text/plain", headers=headers or {})


def service() -> CheckService:
    return current_app.extensions["spamfilter"]


def request_fields() -> dict[str, str]:
    """Form fields from the body whatever the Content-Type (clients differ), and the query.

    Parsed once per request (the rate limiter asks for the key first).
    """
    if "akismet_fields" not in g:
        boundary = request.mimetype_params.get("boundary") if request.mimetype == "multipart/form-data" else None
        body = request.get_data(cache=True)
        g.akismet_fields = parse_form(
            body, request.query_string, boundary.encode("latin-1", "replace") if boundary else None
        )
    return g.akismet_fields


def key_text(fields: dict[str, str], prefer_key: bool = False) -> str | None:
    """The key as the client sent it: a parameter or the Host prefix."""
    return request_key(fields, request.host, service_hosts(current_app.config["SERVICE_HOSTS"]), prefer_key)


def authenticate(fields: dict[str, str], prefer_key: bool = False, fresh: bool = False) -> ApiKey:
    key = key_text(fields, prefer_key)
    if not key:
        raise RequestError("invalid", 'Empty "api_key" value')
    row = service().find_key(key, fresh)
    if row is None:
        raise RequestError("invalid", "Invalid API key: it is unknown or has been revoked.")
    return row


def require_site(key: ApiKey, blog: str) -> None:
    # !a: the blog is echoed in a header, which must stay Latin-1 without line breaks.
    try:
        allowed = site_allowed([s.site for s in key.sites], blog)
    except ValueError:
        raise RequestError("invalid", f"The blog value {blog!a} is not a valid URL.") from None
    if not allowed:
        raise RequestError("invalid", f"This API key is not allowed for the site {blog!a}.")


def authorized_comment(fields: dict[str, str]) -> tuple[ApiKey, Comment]:
    key = authenticate(fields)
    comment = Comment.from_fields(fields)
    require_site(key, comment.blog)
    return key, comment


@bp.errorhandler(RequestError)
def request_error(exc: RequestError) -> Response:
    return text(exc.body, {"X-akismet-debug-help": exc.debug_help})


@bp.post("/1.1/verify-key")
def verify_key() -> Response:
    fields = request_fields()
    # WordPress sends the candidate as `key` and the stored key as `api_key`: `key` wins here.
    # Asked when a key is set up: answer from the database, not from the key cache.
    key = authenticate(fields, prefer_key=True, fresh=True)
    blog = fields.get("blog", "").strip()
    if not blog:
        raise RequestError("invalid", 'Empty "blog" value')
    require_site(key, blog)
    return text("valid")


@bp.post("/1.1/comment-check")
def comment_check() -> Response:
    key, comment = authorized_comment(request_fields())
    result = service().check(key, comment)
    headers = {"X-akismet-guid": result.guid, "X-spamfilter-model": result.model_version}
    if result.verdict.verdict == "discard":
        headers["X-akismet-pro-tip"] = "discard"
    return text("true" if result.verdict.is_spam else "false", headers)


def _submit(label: str) -> Response:
    key, comment = authorized_comment(request_fields())
    service().submit(key, comment, label, source=f"submit-{label}")
    return text(THANKS)


@bp.post("/1.1/submit-spam")
def submit_spam() -> Response:
    return _submit("spam")


@bp.post("/1.1/submit-ham")
def submit_ham() -> Response:
    return _submit("ham")


def _month_bounds(month: str) -> tuple[datetime, datetime]:
    error = RequestError("invalid", 'The "month" value must look like YYYY-MM.')
    if not re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", month):
        raise error
    year, mon = map(int, month.split("-"))
    try:  # years 0000 and 9999-12 have no bounds in datetime
        return datetime(year, mon, 1), datetime(year + (mon == 12), mon % 12 + 1, 1)
    except ValueError:
        raise error from None


def _int(fields: dict[str, str], name: str, default: int) -> int:
    try:
        return max(0, int(fields.get(name, default)))
    except ValueError:
        raise RequestError("invalid", f'The "{name}" value must be a whole number.') from None


@bp.route("/1.2/usage-limit", methods=["GET", "POST"])
def usage_limit() -> Response:
    key = authenticate(request_fields())
    start, end = _month_bounds(utcnow().strftime("%Y-%m"))
    service().log.flush(timeout=1.0)  # count this process's latest checks too
    with service().sessions() as session:
        usage = session.scalar(
            select(func.count(Check.id)).where(
                Check.key_id == key.id, Check.is_test.is_(False), Check.created_at >= start, Check.created_at < end
            )
        )
    limit = key.monthly_limit
    body = {
        "limit": limit if limit is not None else "none",
        "usage": int(usage or 0),
        "percentage": f"{(100.0 * usage / limit) if limit else 0.0:.2f}",
        "throttled": False,
    }
    return Response(json.dumps(body), mimetype="application/json")


_ORDERS = {"total", "spam", "ham", "missed_spam", "false_positives"}


@bp.route("/1.2/key-sites", methods=["GET", "POST"])
def key_sites() -> Response:
    fields = request_fields()
    key = authenticate(fields)
    month = fields.get("month", utcnow().strftime("%Y-%m")).strip()
    start, end = _month_bounds(month)
    order = fields.get("order", "total")
    order = order if order in _ORDERS else "total"
    limit, offset = _int(fields, "limit", 500), _int(fields, "offset", 0)
    substring = fields.get("filter", "").strip().lower()

    service().log.flush(timeout=1.0)
    with service().sessions() as session:
        checks = session.execute(
            select(
                Check.site,
                func.count(Check.id),
                func.sum(case((Check.verdict != "ham", 1), else_=0)),
            )
            .where(Check.key_id == key.id, Check.is_test.is_(False), Check.created_at >= start, Check.created_at < end)
            .group_by(Check.site)
        ).all()
        labels = session.execute(
            select(
                Label.site,
                func.sum(case((Label.label == "spam", 1), else_=0)),
                func.sum(case((Label.label == "ham", 1), else_=0)),
            )
            .where(Label.key_id == key.id, Label.updated_at >= start, Label.updated_at < end)
            .group_by(Label.site)
        ).all()
    stats: dict[str, dict[str, int]] = {}
    for site, total, spam in checks:
        stats[site] = {"total": int(total), "spam": int(spam or 0), "ham": int(total) - int(spam or 0)}
    for site, missed, false_pos in labels:
        row = stats.setdefault(site, {"total": 0, "spam": 0, "ham": 0})
        row["missed_spam"], row["false_positives"] = int(missed or 0), int(false_pos or 0)
    rows = [
        {"site": site, **{k: s.get(k, 0) for k in ("total", "spam", "ham", "missed_spam", "false_positives")}}
        for site, s in stats.items()
        if substring in site
    ]
    rows.sort(key=lambda r: (-r[order], r["site"]))
    page = rows[offset : offset + limit]

    if fields.get("format", "json").lower() == "csv":
        out = io.StringIO()
        out.write(
            f"Active sites for {key_text(fields)} during {month} "
            f"(limit:{limit}, offset: {offset}, total: {len(rows)})\n"
        )
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["Site", "Total API Calls", "Spam", "Ham", "Missed Spam", "False Positives", "Is Revoked"])
        for r in page:
            writer.writerow(
                [r["site"], r["total"], r["spam"], r["ham"], r["missed_spam"], r["false_positives"], "false"]
            )
        return Response(out.getvalue(), mimetype="text/csv")
    body: dict[str, Any] = {
        month: [
            {
                "site": r["site"],
                "api_calls": str(r["total"]),
                "spam": str(r["spam"]),
                "ham": str(r["ham"]),
                "missed_spam": str(r["missed_spam"]),
                "false_positives": str(r["false_positives"]),
                "is_revoked": False,
            }
            for r in page
        ],
        "limit": limit,
        "offset": offset,
        "total": len(rows),
    }
    return Response(json.dumps(body), mimetype="application/json")
