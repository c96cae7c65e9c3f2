"""moderators and review page indexes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 07:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "moderators",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("sites", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_login_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    with op.batch_alter_table("checks", schema=None) as batch_op:
        batch_op.create_index("ix_checks_site_created", ["site", "created_at"], unique=False)
        batch_op.create_index("ix_checks_stats", ["created_at", "is_test", "verdict", "model_version"], unique=False)

    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.create_index("ix_labels_check_guid", ["check_guid"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.drop_index("ix_labels_check_guid")

    with op.batch_alter_table("checks", schema=None) as batch_op:
        batch_op.drop_index("ix_checks_stats")
        batch_op.drop_index("ix_checks_site_created")

    op.drop_table("moderators")
