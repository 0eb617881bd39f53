"""Baseline: the walking skeleton's cameras and events (skipped where `create_all` already made them).

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "cameras" not in existing:
        op.create_table(
            "cameras",
            sa.Column("id", sa.String(64), primary_key=True),
            sa.Column("name", sa.String(200), nullable=False),
            sa.Column("district", sa.String(100), nullable=False),
            sa.Column("street", sa.String(100), nullable=False),
            sa.Column("source", sa.Text(), nullable=False),
            sa.Column("enabled", sa.Boolean(), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        )
        op.create_index("ix_cameras_district", "cameras", ["district"])
        op.create_index("ix_cameras_street", "cameras", ["street"])
    if "events" not in existing:
        op.create_table(
            "events",
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("uid", sa.String(36), nullable=False, unique=True),
            sa.Column("type", sa.String(40), nullable=False),
            sa.Column("camera_id", sa.String(64), sa.ForeignKey("cameras.id"), nullable=False),
            sa.Column("rule_id", sa.String(64), nullable=False),
            sa.Column("zone_id", sa.String(64), nullable=True),
            sa.Column("label", sa.String(40), nullable=True),
            sa.Column("track_id", sa.Integer(), nullable=True),
            sa.Column("first_seen_s", sa.Float(), nullable=False),
            sa.Column("triggered_s", sa.Float(), nullable=False),
            sa.Column("ended_s", sa.Float(), nullable=True),
            sa.Column("duration_s", sa.Float(), nullable=True),
            sa.Column("score", sa.Float(), nullable=True),
            sa.Column("box", sa.JSON(), nullable=True),
            sa.Column("snapshot_path", sa.Text(), nullable=True),
            sa.Column("evidence", sa.JSON(), nullable=False),
            sa.Column("review_status", sa.String(20), nullable=False),
            sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        )
        op.create_index("ix_events_camera_time", "events", ["camera_id", "occurred_at"])
        op.create_index("ix_events_type", "events", ["type"])
        op.create_index("ix_events_camera_id", "events", ["camera_id"])
        op.create_index("ix_events_review_status", "events", ["review_status"])
        op.create_index("ix_events_occurred_at", "events", ["occurred_at"])


def downgrade() -> None:
    op.drop_table("events")
    op.drop_table("cameras")
