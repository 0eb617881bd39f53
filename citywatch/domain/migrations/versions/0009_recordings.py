"""Recordings: the index of continuous segments and of the ranges exported to cases.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("camera_id", sa.String(64), sa.ForeignKey("cameras.id"), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("path", sa.Text(), nullable=False, unique=True),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("codec", sa.String(40), nullable=True),
        sa.Column("motion", sa.Boolean(), nullable=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=True),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_recordings_camera_start", "recordings", ["camera_id", "start_at"])
    op.create_index("ix_recordings_case_id", "recordings", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_recordings_case_id", "recordings")
    op.drop_index("ix_recordings_camera_start", "recordings")
    op.drop_table("recordings")
