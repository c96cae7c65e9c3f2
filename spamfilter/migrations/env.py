"""Alembic environment: runs on the connection spamfilter hands it (see spamfilter.db.migrate)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from spamfilter.db import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    if connection.dialect.name == "postgresql":
        # Nodes starting together must not migrate at once; the lock ends with the transaction.
        connection.execute(text("SELECT pg_advisory_xact_lock(727274)"))
    context.run_migrations()
