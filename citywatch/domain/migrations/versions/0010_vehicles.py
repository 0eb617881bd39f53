"""Vehicles: the plate an event read (`events.plate`, `events.plate_text`) and the vehicles table.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 10:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("events", sa.Column("plate", sa.JSON(), nullable=True))  # no table rewrite
    op.add_column("events", sa.Column("plate_text", sa.String(16), nullable=True))
    op.create_index("ix_events_plate_text", "events", ["plate_text"])
    op.create_table(
        "vehicles",
        sa.Column("plate", sa.String(16), primary_key=True),
        sa.Column("color", sa.String(10), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
    )
    op.create_index("ix_vehicles_last_seen_at", "vehicles", ["last_seen_at"])


def downgrade() -> None:
    op.drop_index("ix_vehicles_last_seen_at", table_name="vehicles")
    op.drop_table("vehicles")
    op.drop_index("ix_events_plate_text", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("plate_text")
        batch.drop_column("plate")
