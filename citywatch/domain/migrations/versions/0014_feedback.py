"""Learning from operators' feedback: box annotations for training, and suppressions learnt from
rejected alerts (issue #18).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 12:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "annotations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("camera_id", sa.String(64), sa.ForeignKey("cameras.id"), nullable=False),
        sa.Column("stream_ts", sa.Float(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("image_path", sa.Text(), nullable=False),
        sa.Column("boxes", sa.JSON(), nullable=False),
        sa.Column("event_id", sa.Integer(), sa.ForeignKey("events.id"), nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_by", sa.String(64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_annotations_camera_id", "annotations", ["camera_id"])
    op.create_index("ix_annotations_event_id", "annotations", ["event_id"])
    op.create_index("ix_annotations_taken", "annotations", ["taken_at", "id"])
    op.create_table(
        "suppressions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("camera_id", sa.String(64), sa.ForeignKey("cameras.id"), nullable=False),
        sa.Column("rule_id", sa.String(64), nullable=True),
        sa.Column("label", sa.String(40), nullable=False),
        sa.Column("region", sa.JSON(), nullable=False),
        sa.Column("min_confidence", sa.Float(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("event_ids", sa.JSON(), nullable=False),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_suppressions_status", "suppressions", ["status"])
    op.create_index("ix_suppressions_camera_status", "suppressions", ["camera_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_suppressions_camera_status", table_name="suppressions")
    op.drop_index("ix_suppressions_status", table_name="suppressions")
    op.drop_table("suppressions")
    op.drop_index("ix_annotations_taken", table_name="annotations")
    op.drop_index("ix_annotations_event_id", table_name="annotations")
    op.drop_index("ix_annotations_camera_id", table_name="annotations")
    op.drop_table("annotations")
