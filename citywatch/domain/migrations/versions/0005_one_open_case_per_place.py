"""One open camera case per camera, zone and type, enforced by the database (partial unique index).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 01:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

WHERE = "source = 'camera' AND status NOT IN ('closed', 'rejected') AND zone_id IS NOT NULL"


def upgrade() -> None:
    op.create_index(
        "uq_cases_open_place",
        "cases",
        ["camera_id", "zone_id", "type"],
        unique=True,
        sqlite_where=sa.text(WHERE),
        postgresql_where=sa.text(WHERE),
    )


def downgrade() -> None:
    op.drop_index("uq_cases_open_place", table_name="cases")
