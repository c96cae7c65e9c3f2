"""Storage: API keys and their sites, the check log, moderator labels.

SQLAlchemy keeps one schema for the embedded SQLite file and for PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, sessionmaker

SITE_CHARS = 500  # longest stored site (normalised blog URL); keys.normalize_site cuts to it


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # sha256 of the key: keys are 62 random bits, so a fast hash is safe and keeps lookups cheap.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(8))  # first characters, to tell keys apart in listings
    label: Mapped[str] = mapped_column(String(200), default="")
    monthly_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    sites: Mapped[list[KeySite]] = relationship(back_populates="key", cascade="all, delete-orphan", lazy="selectin")


class KeySite(Base):
    __tablename__ = "key_sites"
    __table_args__ = (UniqueConstraint("key_id", "site"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"))
    site: Mapped[str] = mapped_column(String(SITE_CHARS))  # normalised, or "*" for any site
    key: Mapped[ApiKey] = relationship(back_populates="sites")


class CommentColumns:
    """The comment as it was sent, kept so that a label can be trained on later."""

    site: Mapped[str] = mapped_column(String(SITE_CHARS), index=True)
    content: Mapped[str] = mapped_column(Text, default="")
    content_hash: Mapped[str] = mapped_column(String(64))
    author: Mapped[str] = mapped_column(Text, default="")
    author_email: Mapped[str] = mapped_column(Text, default="")
    author_url: Mapped[str] = mapped_column(Text, default="")
    user_ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(Text, default="")
    referrer: Mapped[str] = mapped_column(Text, default="")
    permalink: Mapped[str] = mapped_column(Text, default="")
    comment_type: Mapped[str] = mapped_column(String(64), default="")


class Check(CommentColumns, Base):
    __tablename__ = "checks"
    __table_args__ = (
        Index("ix_checks_site_hash", "site", "content_hash"),
        Index("ix_checks_key_created", "key_id", "created_at"),
        # The review page: one site's checks newest first, and the per-version figures.
        Index("ix_checks_site_created", "site", "created_at"),
        Index("ix_checks_stats", "created_at", "is_test", "verdict", "model_version"),  # covering
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guid: Mapped[str] = mapped_column(String(32), unique=True)
    key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    verdict: Mapped[str] = mapped_column(String(10))  # spam, ham or discard
    score: Mapped[float] = mapped_column(Float)
    model_version: Mapped[str] = mapped_column(String(40))
    is_test: Mapped[bool] = mapped_column(Boolean, default=False)
    reasons: Mapped[Any] = mapped_column(JSON, default=list)


class Label(CommentColumns, Base):
    """A moderator's verdict on a comment; one row per (site, comment), updated in place."""

    __tablename__ = "labels"
    __table_args__ = (
        UniqueConstraint("site", "content_hash"),
        Index("ix_labels_check_guid", "check_guid"),  # the review page joins checks to their labels
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(String(4))  # spam or ham
    source: Mapped[str] = mapped_column(String(40))  # submit-spam, submit-ham, review page, import
    submitted_by: Mapped[str] = mapped_column(String(200), default="")  # key hint or moderator name
    key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"), nullable=True)
    check_guid: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow, index=True)


def make_engine(url: str) -> Engine:
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn: Any, _record: Any) -> None:
            # WAL lets gunicorn workers read while one writes; wait rather than fail on a lock.
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)


MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (a no-op when it is current)."""
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "head")


class ModelVersion(Base):
    """A trained model, numbered; its bytes live here so every node can load it."""

    __tablename__ = "model_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    parent: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sha256: Mapped[str] = mapped_column(String(64))
    info: Mapped[Any] = mapped_column(JSON)  # the model's metadata (see spamfilter.model)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ModelCurrent(Base):
    """One row naming the version in service: promotion and rollback are one UPDATE."""

    __tablename__ = "model_current"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int | None] = mapped_column(ForeignKey("model_versions.version"), nullable=True)
    changed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")


class Moderator(Base):
    """An account for the review page (``/moderate``), managed with ``flask moderators``.

    ``sites`` limits what the moderator sees and may label (normalised like key sites,
    subfolders included); an empty list means every site.
    """

    __tablename__ = "moderators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))  # werkzeug.security (scrypt), never the password
    sites: Mapped[Any] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
