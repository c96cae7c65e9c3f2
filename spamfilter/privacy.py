"""Personal data in the check log: kept only as long as configured, and forgotten on request.

* ``RETENTION_DAYS`` (0 = keep) with ``RETENTION_MODE``: ``anonymise`` blanks what
  identifies a person in older logged checks (IP, e-mail, name, URL, user agent,
  referrer) and keeps the verdict statistics; ``delete`` removes those checks.
  ``serve.py`` applies it hourly; ``flask --app spamfilter privacy purge`` does it now.
* ``flask --app spamfilter privacy forget --email X --ip Y`` deletes every check and
  label from that person (a GDPR erasure request).
"""

from __future__ import annotations

from datetime import timedelta

import click
from flask import Blueprint, current_app
from sqlalchemy import delete, func, or_, update
from sqlalchemy.orm import Session, sessionmaker

from .db import Check, Label, utcnow

bp = Blueprint("privacy", __name__, cli_group="privacy")

MODES = ("anonymise", "delete")
PERSONAL = {"user_ip": "", "author_email": "", "author": "", "author_url": "", "user_agent": "", "referrer": ""}


def apply_retention(session: Session, days: int, mode: str) -> int:
    """Anonymise or delete logged checks older than ``days``; returns how many rows changed."""
    if days <= 0:
        return 0
    if mode not in MODES:
        raise ValueError(f"RETENTION_MODE must be one of {', '.join(MODES)}, not {mode!r}")
    old = Check.created_at < utcnow() - timedelta(days=days)
    if mode == "delete":
        result = session.execute(delete(Check).where(old))
    else:
        identifying = or_(*(getattr(Check, column) != "" for column in PERSONAL))
        result = session.execute(update(Check).where(old, identifying).values(**PERSONAL))
    session.commit()
    return int(result.rowcount or 0)


def forget(session: Session, email: str = "", ip: str = "") -> tuple[int, int]:
    """Delete the checks and labels of one person, by e-mail (any case) and/or IP; (checks, labels)."""
    email, ip = email.strip().lower(), ip.strip()
    if not email and not ip:
        raise ValueError("give an e-mail address, an IP address or both")
    counts = []
    for table in (Check, Label):
        matches = []
        if email:
            matches.append(func.lower(table.author_email) == email)
        if ip:
            matches.append(table.user_ip == ip)
        counts.append(int(session.execute(delete(table).where(or_(*matches))).rowcount or 0))
    session.commit()
    return counts[0], counts[1]


def _sessions() -> sessionmaker[Session]:
    service = current_app.extensions["spamfilter"]
    service.log.flush(timeout=10.0)  # include checks still queued in this process
    return service.sessions


@bp.cli.command("purge")
def purge_command() -> None:
    """Apply RETENTION_DAYS / RETENTION_MODE to the check log now."""
    days, mode = int(current_app.config["RETENTION_DAYS"]), str(current_app.config["RETENTION_MODE"])
    if days <= 0:
        click.echo("RETENTION_DAYS is 0: logged checks are kept; nothing to do")
        return
    with _sessions()() as session:
        changed = apply_retention(session, days, mode)
    click.echo(f"{mode}: {changed} logged checks older than {days} days")


@bp.cli.command("forget")
@click.option("--email", default="", help="the person's e-mail address (any case)")
@click.option("--ip", default="", help="the person's IP address")
def forget_command(email: str, ip: str) -> None:
    """Delete every logged check and label from one person."""
    try:
        with _sessions()() as session:
            checks, labels = forget(session, email, ip)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"deleted {checks} logged checks and {labels} labels")
