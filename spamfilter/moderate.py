"""The review page (``/moderate``): what the filter decided and why, and one click to correct it.

Moderators sign in (accounts: :mod:`spamfilter.moderators`, ``flask moderators``),
browse logged checks newest first with filters and search, see each verdict's
reasons, and label checks spam or not spam exactly as ``submit-spam``/``submit-ham``
would (through :meth:`CheckService.label_check`). A stats view counts checks,
labels and moderator corrections per model version.

Comments are hostile input: they are only ever rendered through Jinja's
autoescaping, and the pages carry a Content-Security-Policy that allows no inline
script, so even a mistake in a template could not run a comment's script.

CSRF protection (Flask-WTF) applies to this blueprint's forms only: the Akismet
and JSON APIs are posted to by clients without a session and must stay open.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from flask_wtf.csrf import CSRFError, CSRFProtect
from markupsafe import Markup, escape
from sqlalchemy import select
from werkzeug.wrappers import Request as BaseRequest
from werkzeug.wrappers import Response as BaseResponse

from . import moderators
from .checks import CheckService
from .db import Check, Moderator
from .errors import ModelError
from .moderators import site_clause
from .review import GUID, Filters, bar_chart, figure_tables, list_page, search_terms, stats, visible_sites

bp = Blueprint("moderate", __name__, url_prefix="/moderate")
csrf = CSRFProtect()

SOURCE = "review page"  # labels.source of labels stored here
BULK_LIMIT = 500  # checks labelled by one bulk action
PREVIEW_CHARS = 1200  # a longer comment shows this much, the rest on demand
STATS_PERIODS = (7, 30, 90, 365)
PUBLIC_ENDPOINTS = {"moderate.login"}
SECURITY_HEADERS = {
    # No inline script or style anywhere: a comment that escaped escaping still could not run.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # comments, e-mails and IPs stay out of shared caches
}


class ReviewSessions(SecureCookieSessionInterface):
    """The signed session cookie, for the review page only.

    API clients never sign in or send a cookie, yet opening and saving a session
    (building its signer) cost about 30 µs of every check; they get Flask's null session.
    """

    def open_session(self, app: Flask, request: BaseRequest) -> SessionMixin | None:
        if not request.path.startswith(str(bp.url_prefix)):
            return self.make_null_session(app)
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    """Register the blueprint, its sessions and CSRF protection that checks only this blueprint's forms."""
    app.session_interface = ReviewSessions()
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # protect() is called in _guard, for /moderate only
    csrf.init_app(app)
    app.register_blueprint(bp)
    app.jinja_env.filters["reason_list"] = reason_list
    app.jinja_env.filters["highlight"] = highlight


def _service() -> CheckService:
    return current_app.extensions["spamfilter"]


# --- sign-in -------------------------------------------------------------------------------------


def current_moderator() -> Moderator | None:
    """The signed-in moderator, if the session names one whose password has not changed since."""
    moderator_id, stamp = session.get("moderator_id"), session.get("moderator_stamp")
    if not isinstance(moderator_id, int) or not isinstance(stamp, str):
        return None
    with _service().sessions() as db:
        row = db.get(Moderator, moderator_id)
    if row is None or moderators.session_stamp(row) != stamp:
        return None
    return row


@bp.before_request
def _guard() -> BaseResponse | None:
    """CSRF on every POST, then sign-in on every page but the login form."""
    csrf.protect()
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    moderator = current_moderator()
    if moderator is None:
        session.pop("moderator_id", None)
        session.pop("moderator_stamp", None)
        # Back to the page after signing in; a form post cannot be replayed, so to the list.
        back = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for(".login", next=back))
    g.moderator = moderator
    return None


@bp.after_request
def _headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


@bp.errorhandler(CSRFError)
def _csrf_error(exc: CSRFError) -> tuple[str, int]:
    # The usual cause on plain http: the browser dropped the Secure session cookie.
    cookie_dropped = (
        current_app.config["SESSION_COOKIE_SECURE"]
        and not request.is_secure
        and current_app.config["SESSION_COOKIE_NAME"] not in request.cookies
    )
    return render_template("moderate/error.html", reason=exc.description, cookie_dropped=cookie_dropped), 400


def _safe_next(target: str | None) -> str:
    """Where to go after a form: only a path on this blueprint, never another site."""
    default = url_for(".index")
    if not target:
        return default
    parts, prefix = urlsplit(target), bp.url_prefix or "/moderate"
    if parts.scheme or parts.netloc or "\\" in target:
        return default
    return target if parts.path == prefix or parts.path.startswith(prefix + "/") else default


@bp.route("/login", methods=["GET", "POST"])
def login() -> BaseResponse | tuple[str, int] | str:
    next_url = _safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("moderate/login.html", next_url=next_url, name="")
    name = request.form.get("name", "")
    with _service().sessions() as db:
        row = moderators.authenticate(db, name, request.form.get("password", ""))
    if row is None:
        return render_template("moderate/login.html", next_url=next_url, name=name, failed=True), 401
    session.clear()  # a fresh session (and CSRF token) for the signed-in moderator
    session.permanent = True
    session["moderator_id"] = row.id
    session["moderator_stamp"] = moderators.session_stamp(row)
    return redirect(next_url)


@bp.post("/logout")
def logout() -> BaseResponse:
    session.clear()
    return redirect(url_for(".login"))


# --- the list of checks ----------------------------------------------------------------------------


@bp.get("/")
def index() -> str:
    f = Filters.parse(request.args)
    moderator: Moderator = g.moderator
    size = int(current_app.config["MODERATE_PAGE_SIZE"])
    with _service().sessions() as db:
        page = list_page(db, f, moderator.sites, size, request.args.get("before"), request.args.get("after"))
        sites = visible_sites(db, moderator.sites)
    return render_template(
        "moderate/list.html", page=page, filters=f, sites=sites, terms=search_terms(f.q), preview_chars=PREVIEW_CHARS
    )


@bp.post("/label")
def label() -> BaseResponse:
    """One click (``action=ham:GUID``) or a bulk action (``action=ham`` and the ticked ``guid`` boxes)."""
    action = request.form.get("action", "")
    value, _, one = action.partition(":")
    wanted = [one] if one else request.form.getlist("guid")
    guids = sorted({x.strip().lower() for x in wanted if GUID.fullmatch(x.strip().lower())})[:BULK_LIMIT]
    back = _safe_next(request.form.get("next"))
    if value not in {"spam", "ham"}:
        flash("Choose spam or not spam.", "error")
        return redirect(back)
    if not guids:
        flash("Select at least one comment first.", "error")
        return redirect(back)
    moderator: Moderator = g.moderator
    service = _service()
    with service.sessions() as db:  # only checks of the moderator's sites
        found = db.execute(
            select(Check.guid, Check.is_test).where(Check.guid.in_(guids), site_clause(Check.site, moderator.sites))
        ).all()
    stored = tests = 0
    for guid, is_test in found:
        if is_test:  # Akismet: test calls are never learnt from
            tests += 1
        elif service.label_check(guid, value, SOURCE, moderator.name):
            stored += 1
    flash(f"Marked {_plural(stored, 'comment')} as {'spam' if value == 'spam' else 'not spam'}.", "ok")
    if tests:
        flash(f"{_plural(tests, 'test call')} (is_test) left unlabelled: Akismet never learns from them.", "error")
    if len(found) < len(guids):
        flash(f"{_plural(len(guids) - len(found), 'comment')} not found on your sites.", "error")
    return redirect(back)


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


# --- stats ----------------------------------------------------------------------------------------------


@bp.get("/stats")
def stats_view() -> str:
    days = request.args.get("days", type=int) or 30
    days = days if days in STATS_PERIODS else 30
    moderator: Moderator = g.moderator
    with _service().sessions() as db:
        figures = stats(db, moderator.sites, days)
    charts = {
        "checks": bar_chart(figures.days, figures.checks_per_day, ("ham", "spam", "discard")),
        "labels": bar_chart(figures.days, figures.labels_per_day, ("ham", "spam")),
    }
    return render_template(
        "moderate/stats.html", s=figures, charts=charts, period=days, periods=STATS_PERIODS, model=model_summary()
    )


def model_summary() -> dict[str, Any]:
    """The model in service: its metadata, figures flattened for a table, or why none is loaded."""
    try:
        model = _service().models.model
    except ModelError as exc:
        return {"error": str(exc)}
    meta = model.metadata
    scalars = {
        k: v
        for k, v in meta.items()
        if isinstance(v, str | int | float | bool) and k not in {"sha256", "file", "format"}
    }
    tables = figure_tables(meta.get("scores", {}))
    columns = sorted({c for _, row in tables for c in row})
    notes = {k: v for k, v in meta.get("scores", {}).items() if isinstance(v, str)}
    return {
        "version": model.version,
        "threshold": model.threshold,
        "discard_threshold": model.discard_threshold,
        "scalars": scalars,
        "training": meta.get("training") if isinstance(meta.get("training"), dict) else {},
        "corpora": [c for c in meta.get("corpora", []) if isinstance(c, dict)],
        "thresholds_chosen_for": meta.get("thresholds_chosen_for") or {},
        "tables": tables,
        "columns": columns,
        "notes": notes,
        "last_error": _service().models.last_error,
    }


# --- template helpers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ShownReason:
    kind: str
    feature: str
    weight: float

    @property
    def towards(self) -> str:
        return "spam" if self.weight > 0 else "ham"


def reason_list(reasons: Any) -> list[ShownReason]:
    """A check's stored reasons, tolerant of rows written by older versions or by hand."""
    out = []
    for r in reasons if isinstance(reasons, list) else []:
        if not isinstance(r, dict):
            continue
        try:
            weight = float(r.get("weight", 0))
        except (TypeError, ValueError):
            continue
        # Character n-grams start or end with a space: make it visible.
        feature = str(r.get("feature", "")).replace(" ", "␣")
        out.append(ShownReason(str(r.get("kind", "")), feature, weight))
    return out


def highlight(text: str, terms: Iterable[str]) -> Markup:
    """``text`` escaped, with the search terms wrapped in <mark>; every piece is escaped first."""
    terms = [t for t in terms if t]
    if not terms:
        return escape(text)
    pattern = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)), re.IGNORECASE)
    out, last = [], 0
    for m in pattern.finditer(text):
        out.append(escape(text[last : m.start()]))
        out.append(Markup("<mark>%s</mark>") % m.group(0))
        last = m.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


@bp.app_template_global("moderate_url")
def moderate_url(endpoint: str, filters: Filters | None = None, **extra: Any) -> str:
    """A URL on this blueprint keeping the current filters, with ``extra`` args replacing some."""
    args = filters.query_args() if filters else {}
    args.update({k: v for k, v in extra.items() if v not in (None, "")})
    return url_for(endpoint, **args)
