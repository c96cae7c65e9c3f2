"""API keys: creation, lookup by hash, revocation, and which sites a key may serve.

Keys are 12 characters because the WordPress plugin never sends any other length
to the server (it answers ``invalid`` itself).
"""

from __future__ import annotations

import hashlib
import secrets
import string
import time
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from .db import SITE_CHARS, ApiKey, KeySite, utcnow

KEY_LENGTH = 12
_ALPHABET = string.ascii_lowercase + string.digits
ANY_SITE = "*"


def new_key() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(KEY_LENGTH))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.strip().encode()).hexdigest()


def normalize_site(url: str) -> str:
    """``https://WWW.Blog.example/news/`` -> ``blog.example/news``; scheme and port ignored.

    Raises ValueError for what cannot be a URL (``https://[::1``). Cut to the column's
    size: sites that long differ only in their tails anyway.
    """
    url = url.strip()
    if url == ANY_SITE:
        return ANY_SITE
    parts = urlsplit(url if "://" in url else f"http://{url}")
    host = (parts.hostname or "").lower().removeprefix("www.")
    return (host + parts.path.rstrip("/")).lower()[:SITE_CHARS]


def site_allowed(allowed: list[str], blog: str) -> bool:
    """True when ``blog`` is one of the key's sites or below one (subfolder installs)."""
    target = normalize_site(blog)
    for site in allowed:
        if site == ANY_SITE or target == site or target.startswith(site + "/"):
            return True
    return False


def create_key(session: Session, sites: list[str], label: str = "", monthly_limit: int | None = None) -> str:
    """Store a new key for ``sites`` and return it; only its hash is kept."""
    if not sites:
        raise ValueError("a key needs at least one site (or '*' for any site)")
    key = new_key()
    row = ApiKey(key_hash=hash_key(key), hint=key[:4], label=label, monthly_limit=monthly_limit)
    row.sites = [KeySite(site=s) for s in sorted({normalize_site(s) for s in sites})]
    session.add(row)
    session.commit()
    return key


def find_key(session: Session, key: str | None) -> ApiKey | None:
    """The active key row for ``key``, or None when unknown or revoked."""
    if not key:
        return None
    row = session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_key(key))).first()
    return row if row is not None and row.revoked_at is None else None


def matching_keys(session: Session, key_or_hint: str) -> list[ApiKey]:
    """Keys named by the full key or by the hint shown in ``keys list``."""
    row = session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_key(key_or_hint))).first()
    if row is not None:
        return [row]
    return list(session.scalars(select(ApiKey).where(ApiKey.hint == key_or_hint[:4])))


def revoke(session: Session, row: ApiKey) -> None:
    row.revoked_at = utcnow()
    session.commit()


def active_key_count(session: Session) -> int:
    return len(session.scalars(select(ApiKey.id).where(ApiKey.revoked_at.is_(None))).all())


class KeyCache:
    """Recently used keys, so a check needs no database read and survives a database outage.

    A key that was revoked keeps working for at most ``ttl`` seconds in a running
    server; unknown keys are never cached, so a new key works at once.
    """

    def __init__(self, sessions: sessionmaker[Session], ttl: float = 30.0) -> None:
        self.sessions = sessions
        self.ttl = ttl
        self._entries: dict[str, tuple[float, ApiKey | None]] = {}

    def find(self, key: str | None, fresh: bool = False) -> ApiKey | None:
        """The active key row; ``fresh`` asks the database even when the key is cached."""
        if not key:
            return None
        digest, now = hash_key(key), time.monotonic()
        hit = self._entries.get(digest)
        if hit is not None and not fresh and now - hit[0] < self.ttl:
            return hit[1]
        try:
            with self.sessions() as session:
                row = find_key(session, key)
        except SQLAlchemyError:
            if hit is not None:  # the database is away: the key was valid a moment ago
                return hit[1]
            raise
        if row is None:
            self._entries.pop(digest, None)
        else:
            self._entries[digest] = (now, row)
        return row
