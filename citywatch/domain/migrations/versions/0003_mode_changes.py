"""Mode changes: who switched the operating mode (normal, flood, ...) and when.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 00:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mode_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("mode", sa.String(length=64), nullable=False),
        sa.Column("previous", sa.String(length=64), nullable=True),
        sa.Column("changed_by", sa.String(length=64), nullable=False),
        sa.Column("via", sa.String(length=10), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_mode_changes_changed_at", "mode_changes", ["changed_at"])


def downgrade() -> None:
    op.drop_index("ix_mode_changes_changed_at", table_name="mode_changes")
    op.drop_table("mode_changes")
