"""Indexes for the console's hottest case lists: district + status, and the overdue queue.

- `ix_cases_district_status_created`: a street office's "dispatched in my district" page and its
  count read only index entries that match (was: every case of the status, filtered by district).
- `ix_cases_working_created`: newest-first over the cases still being worked (the statuses with a
  deadline), so the overdue queue skips the closed and rejected majority of a mature ledger.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

WORKING = "status IN ('registered', 'dispatched', 'handled')"


def upgrade() -> None:
    op.create_index("ix_cases_district_status_created", "cases", ["district", "status", "created_at", "id"])
    op.create_index(
        "ix_cases_working_created",
        "cases",
        ["created_at", "id"],
        sqlite_where=sa.text(WORKING),
        postgresql_where=sa.text(WORKING),
    )


def downgrade() -> None:
    op.drop_index("ix_cases_working_created", table_name="cases")
    op.drop_index("ix_cases_district_status_created", table_name="cases")
