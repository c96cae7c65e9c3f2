"""Operator commands, run as ``flask --app spamfilter <command>``."""

from __future__ import annotations

import csv
import sys
from typing import Any

import click
from flask import Blueprint, current_app
from sqlalchemy import select

from . import keys as key_store
from . import moderators as moderator_store
from .checks import CheckService
from .db import ApiKey, Label, Moderator
from .keys import normalize_site

bp = Blueprint("cli", __name__, cli_group=None)


def _service() -> CheckService:
    return current_app.extensions["spamfilter"]


@bp.cli.group("keys")
def keys_group() -> None:
    """Create, list and revoke API keys."""


@keys_group.command("create")
@click.option(
    "--site", "sites", multiple=True, required=True, help="Site URL the key may serve; repeat for more; '*' for any."
)
@click.option("--label", default="", help="A note to tell keys apart.")
@click.option("--monthly-limit", type=int, default=None, help="Calls per month reported by usage-limit.")
def create(sites: tuple[str, ...], label: str, monthly_limit: int | None) -> None:
    """Create a key. It is printed once: only its hash is stored."""
    with _service().sessions() as session:
        try:
            key = key_store.create_key(session, list(sites), label, monthly_limit)
        except ValueError as exc:  # no site, or a site that is not a URL
            raise click.UsageError(str(exc)) from None
    click.echo(key)


@keys_group.command("list")
def list_keys() -> None:
    """Show keys by hint (first 4 characters), sites and state."""
    with _service().sessions() as session:
        for row in session.query(ApiKey).order_by(ApiKey.id):
            state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
            sites = ", ".join(s.site for s in row.sites)
            click.echo(f"{row.hint}…  {state:<18} {sites}  {row.label}")


@keys_group.command("revoke")
@click.argument("key_or_hint")
def revoke(key_or_hint: str) -> None:
    """Revoke a key, named by the key itself or its 4-character hint."""
    with _service().sessions() as session:
        rows = [r for r in key_store.matching_keys(session, key_or_hint) if r.revoked_at is None]
        if len(rows) != 1:
            raise click.ClickException(f"{len(rows)} active keys match {key_or_hint!r}; give the whole key")
        key_store.revoke(session, rows[0])
    click.echo(f"revoked {rows[0].hint}…")


LABEL_COLUMNS = (
    "id",
    "text",
    "label",
    "author",
    "date",
    "group",
    "email",
    "url",
    "user_ip",
    "user_agent",
    "referrer",
    "permalink",
    "comment_type",
    "source",
    "submitted_by",
)


@bp.cli.group("labels")
def labels_group() -> None:
    """Export and import moderator labels as CSV (the corpora's columns, then the rest)."""


@labels_group.command("export")
@click.argument("file", type=click.File("w", encoding="utf-8"), default="-")
def export_labels(file: Any) -> None:
    """Write every label to FILE (default: standard output); `group` is the site."""
    writer = csv.DictWriter(file, LABEL_COLUMNS, lineterminator="\n")
    writer.writeheader()
    with _service().sessions() as session:
        for row in session.scalars(select(Label).order_by(Label.id)).yield_per(1000):
            writer.writerow(
                {
                    "id": row.id,
                    "text": row.content,
                    "label": row.label,
                    "author": row.author,
                    "date": row.updated_at.isoformat(timespec="seconds"),
                    "group": row.site,
                    "email": row.author_email,
                    "url": row.author_url,
                    "user_ip": row.user_ip,
                    "user_agent": row.user_agent,
                    "referrer": row.referrer,
                    "permalink": row.permalink,
                    "comment_type": row.comment_type,
                    "source": row.source,
                    "submitted_by": row.submitted_by,
                }
            )


@labels_group.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--site", default="", help="Site for rows without a `group` column value.")
def import_labels(file: Any, site: str) -> None:
    """Read labels from FILE; a comment already labelled on the same site is updated."""
    service = _service()
    imported = 0
    for n, row in enumerate(csv.DictReader(file), start=2):
        label = (row.get("label") or "").strip().lower()
        row_site = (row.get("group") or site).strip()
        if label not in {"spam", "ham"} or not row_site:
            raise click.ClickException(f"line {n}: needs label spam/ham and a group (site) or --site")
        service.import_label(
            {
                "site": normalize_site(row_site),
                "content": row.get("text") or "",
                "author": row.get("author") or "",
                "author_email": row.get("email") or "",
                "author_url": row.get("url") or "",
                "user_ip": (row.get("user_ip") or "")[:64],
                "user_agent": row.get("user_agent") or "",
                "referrer": row.get("referrer") or "",
                "permalink": row.get("permalink") or "",
                "comment_type": (row.get("comment_type") or "")[:64],
            },
            label,
            submitted_by=row.get("submitted_by") or "import",
        )
        imported += 1
    click.echo(f"imported {imported} labels")


@bp.cli.group("moderators")
def moderators_group() -> None:
    """Create, list, delete moderator accounts for the review page (/moderate)."""


def _read_password(password_stdin: bool) -> str:
    """The new password: the first line of standard input, or asked twice without echo."""
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


def _moderator(session: Any, name: str) -> Moderator:
    row = moderator_store.find(session, name)
    if row is None:
        raise click.ClickException(f"no moderator named {name!r}")
    return row


@moderators_group.command("create")
@click.argument("name")
@click.option("--site", "sites", multiple=True, help="Limit to this site (repeat for more); none: every site.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
def create_moderator(name: str, sites: tuple[str, ...], password_stdin: bool) -> None:
    """Create moderator NAME; the password is asked for (or read with --password-stdin)."""
    password = _read_password(password_stdin)
    with _service().sessions() as session:
        try:
            row = moderator_store.create(session, name, password, list(sites))
        except moderator_store.AccountError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"created moderator {row.name} ({', '.join(row.sites) or 'every site'})")


@moderators_group.command("list")
def list_moderators() -> None:
    """Show moderators, their sites and last sign-in."""
    with _service().sessions() as session:
        for row in moderator_store.all_moderators(session):
            last = f"{row.last_login_at:%Y-%m-%d %H:%M}" if row.last_login_at else "never"
            click.echo(f"{row.name:<24} last sign-in {last:<16}  {', '.join(row.sites) or 'every site'}")


@moderators_group.command("delete")
@click.argument("name")
def delete_moderator(name: str) -> None:
    """Delete moderator NAME; their open sessions stop working at once. Their labels stay."""
    with _service().sessions() as session:
        moderator_store.delete(session, _moderator(session, name))
    click.echo(f"deleted moderator {name}")


@moderators_group.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
def moderator_password(name: str, password_stdin: bool) -> None:
    """Set a new password for NAME; their open sessions stop working."""
    with _service().sessions() as session:
        row = _moderator(session, name)
        password = _read_password(password_stdin)
        try:
            moderator_store.set_password(session, row, password)
        except moderator_store.AccountError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"changed the password of {name}")
