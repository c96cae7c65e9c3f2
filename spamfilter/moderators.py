"""Moderator accounts for the review page: creation, passwords, sign-in and site limits.

Passwords are stored as werkzeug.security hashes (scrypt, salted) and compared in
constant time; an unknown name is checked against a dummy hash so that the answer
takes as long as for a known one and does not tell which names exist.

A moderator may be limited to some sites (matched like API key sites: a site
covers its subfolders, scheme and ``www.`` ignored); with no sites they see all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session
from werkzeug.security import check_password_hash, generate_password_hash

from .db import Moderator, utcnow
from .keys import ANY_SITE, normalize_site

MIN_PASSWORD = 10
NAME_CHARS = 100
# Checked when the name is unknown, so both paths cost one hash computation.
_DUMMY_HASH = generate_password_hash("not a password of anyone")


class AccountError(ValueError):
    """A name, password or site that cannot be used; the message says why."""


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > NAME_CHARS or any(c.isspace() or not c.isprintable() for c in name):
        raise AccountError(f"a name is 1 to {NAME_CHARS} printable characters without spaces")
    return name


def _clean_sites(sites: Sequence[str]) -> list[str]:
    """Normalised sites; ``*`` (any site) or none at all means no limit, stored as []."""
    try:
        cleaned = sorted({normalize_site(s) for s in sites if s.strip()})
    except ValueError as exc:
        raise AccountError(f"not a site URL: {exc}") from None
    return [] if ANY_SITE in cleaned else cleaned


def find(session: Session, name: str) -> Moderator | None:
    return session.scalars(select(Moderator).where(Moderator.name == name.strip())).first()


def create(session: Session, name: str, password: str, sites: Sequence[str] = ()) -> Moderator:
    """Store a new moderator; AccountError when the name is taken or the password too short."""
    name = _clean_name(name)
    _check_password(password)
    if find(session, name) is not None:
        raise AccountError(f"a moderator named {name!r} already exists")
    row = Moderator(name=name, password_hash=generate_password_hash(password), sites=_clean_sites(sites))
    session.add(row)
    session.commit()
    return row


def set_password(session: Session, row: Moderator, password: str) -> None:
    """Change the password; the moderator's open sessions end (see :func:`session_stamp`)."""
    _check_password(password)
    row.password_hash = generate_password_hash(password)
    session.commit()


def delete(session: Session, row: Moderator) -> None:
    session.delete(row)
    session.commit()


def all_moderators(session: Session) -> list[Moderator]:
    return list(session.scalars(select(Moderator).order_by(Moderator.name)))


def authenticate(session: Session, name: str, password: str) -> Moderator | None:
    """The moderator whose name and password these are, else None, in constant time."""
    row = find(session, name) if name.strip() else None
    ok = check_password_hash(row.password_hash if row else _DUMMY_HASH, password)
    if row is None or not ok:
        return None
    row.last_login_at = utcnow()
    session.commit()
    return row


def session_stamp(row: Moderator) -> str:
    """A fingerprint of the password hash kept in the login session.

    The session cookie is signed, not stored server-side, so changing the password
    (or deleting the account) must invalidate it some other way: the stamp no
    longer matches and the cookie stops working.
    """
    return hashlib.sha256(f"{row.id}:{row.password_hash}".encode()).hexdigest()[:32]


def site_clause(column: InstrumentedAttribute[str], sites: Sequence[str]) -> ColumnElement[bool]:
    """SQL condition: ``column`` (a normalised site) is one of ``sites`` or below one; [] = any."""
    if not sites:
        return true()
    clauses = [or_(column == s, column.startswith(s + "/", autoescape=True)) for s in sites]
    return or_(false(), *clauses)


def may_see(sites: Sequence[str], site: str) -> bool:
    """True when a moderator's ``sites`` cover ``site`` (normalised, as stored in checks); [] = any."""
    return not sites or any(site == s or site.startswith(s + "/") for s in sites)
