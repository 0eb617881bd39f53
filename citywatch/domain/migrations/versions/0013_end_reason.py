"""Why a stay ended (the object left, the footage ended, the rule went idle): `events.end_reason`.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 10:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("events", sa.Column("end_reason", sa.String(20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("end_reason")
