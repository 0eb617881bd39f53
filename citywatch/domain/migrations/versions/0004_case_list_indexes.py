"""Case list indexes: newest-first pages filtered by district or by status stay index scans.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 00:50:00
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_cases_district_created", "cases", ["district", "created_at", "id"])
    op.create_index("ix_cases_status_created", "cases", ["status", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_cases_status_created", table_name="cases")
    op.drop_index("ix_cases_district_created", table_name="cases")
