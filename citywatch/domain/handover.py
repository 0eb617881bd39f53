"""The shift handover summary (交接班): what the next shift takes over, computed from the ledger.

`handover(session, since, now, due_within_h)`: alerts still waiting for review (and how many came
in during the shift), open cases by status, those overdue and those due within the next hours
(oldest deadline first), the cases the shift opened, handled and closed, and the mode switches it
saw. Read-only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citywatch.domain import workflow
from citywatch.domain.tables import Case, Event, ModeChange

#: At most this many overdue or due cases are listed (the counts are always complete).
LISTED = 50


def _case_line(case: Case) -> dict[str, Any]:
    return {
        "id": case.id, "type": case.type, "status": case.status, "district": case.district, "street": case.street,
        "team": case.team, "deadline": case.deadline, "description": case.description,
    }  # fmt: skip


def handover(session: Session, *, since: datetime, now: datetime, due_within_h: float = 4.0) -> dict[str, Any]:
    """The summary for a shift that began at `since` and hands over at `now`."""
    pending = int(session.scalar(select(func.count(Event.id)).where(Event.review_status == "pending")) or 0)
    arrived = int(session.scalar(select(func.count(Event.id)).where(Event.occurred_at >= since)) or 0)
    by_status = dict(
        session.execute(
            select(Case.status, func.count(Case.id))
            .where(Case.status.in_(workflow.OPEN_STATUSES))
            .group_by(Case.status)
        ).all()
    )
    timed = select(Case).where(Case.status.in_(workflow.DEADLINE_STATUSES), Case.deadline.is_not(None))
    overdue = session.scalars(timed.where(Case.deadline < now).order_by(Case.deadline).limit(LISTED)).all()
    due = session.scalars(
        timed.where(Case.deadline >= now, Case.deadline < now + timedelta(hours=due_within_h))
        .order_by(Case.deadline)
        .limit(LISTED)
    ).all()
    overdue_count = int(
        session.scalar(
            select(func.count(Case.id)).where(
                Case.status.in_(workflow.DEADLINE_STATUSES), Case.deadline.is_not(None), Case.deadline < now
            )
        )
        or 0
    )

    def counted(column: Any) -> int:
        return int(session.scalar(select(func.count(Case.id)).where(column >= since, column < now)) or 0)

    switches = session.scalars(select(ModeChange).where(ModeChange.changed_at >= since).order_by(ModeChange.id)).all()
    return {
        "since": since,
        "now": now,
        "alerts": {"pending": pending, "arrived": arrived},
        "open_cases": {status: int(by_status.get(status, 0)) for status in workflow.OPEN_STATUSES},
        "overdue": {"count": overdue_count, "cases": [_case_line(c) for c in overdue]},
        "due_soon": {"within_h": due_within_h, "cases": [_case_line(c) for c in due]},
        "shift": {
            "opened": counted(Case.created_at),
            "handled": counted(Case.handled_at),
            "closed": counted(Case.closed_at),
        },
        "mode_switches": [{"mode": m.mode, "changed_by": m.changed_by, "changed_at": m.changed_at} for m in switches],
    }
