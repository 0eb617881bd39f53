"""Suppressions learnt from rejected alerts (issue #18), for admins: `GET /api/suppressions` lists
proposals, active and revoked ones, each with how many events it held back;
`POST /api/suppressions/{id}/activate` and `POST /api/suppressions/{id}/revoke` decide one (who and
when are kept on the row and its history: audited). The learning itself happens when an alert is
rejected (`citywatch.domain.suppression.learn_from_rejection`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi import Path as PathParam
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.auth_responses import AUTH_RESPONSES
from api.deps import Admin, Context, DbSession, require_role
from api.schemas import Problem
from citywatch.domain import suppression
from citywatch.domain.tables import Event, Suppression

router = APIRouter(
    prefix="/api/suppressions",
    tags=["suppressions"],
    dependencies=[Depends(require_role("admin"))],
    responses=AUTH_RESPONSES,
)
SuppressionId = Annotated[str, PathParam(min_length=36, max_length=36, description="Suppression id (a UUID).")]


class SuppressionOut(BaseModel):
    """A suppression: events of `camera_id` (and `rule_id`) with `label` whose box centre lies in
    `region` (normalised [x1, y1, x2, y2]) and, with `min_confidence`, score under it, are kept
    `suppressed` while it is active."""

    id: str
    camera_id: str
    rule_id: str | None
    label: str
    region: list[float] = Field(examples=[[0.6, 0.02, 0.75, 0.25]])
    min_confidence: float | None
    reason: str
    status: str = Field(description="proposed, active or revoked.")
    event_ids: list[int] = Field(description="The rejected events it was learnt from.")
    suppressed: int = Field(description="Events it has held back.")
    #: The first evidence event, whose snapshot the console draws the region on.
    image_event_id: int | None
    history: list[dict[str, Any]]
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None


class SuppressionList(BaseModel):
    items: list[SuppressionOut]


def _out(row: Suppression, counts: dict[str, int], shown: int | None) -> SuppressionOut:
    return SuppressionOut(
        id=row.id,
        camera_id=row.camera_id,
        rule_id=row.rule_id,
        label=row.label,
        region=row.region,
        min_confidence=row.min_confidence,
        reason=row.reason,
        status=row.status,
        event_ids=row.event_ids,
        suppressed=counts.get(row.id, 0),
        image_event_id=shown,
        history=row.history,
        created_at=row.created_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
    )


@router.get("", response_model=SuppressionList, summary="List suppressions (admins)")
def list_suppressions(
    session: DbSession,
    status: Annotated[str | None, Query(pattern="^(proposed|active|revoked)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> SuppressionList:
    """Newest first, each with how many events it held back."""
    rows = suppression.list_suppressions(session, status, limit)
    counts = suppression.suppressed_counts(session, [row.id for row in rows])
    wanted = {row.id: next(iter(row.event_ids), None) for row in rows}
    present = set(session.scalars(select(Event.id).where(Event.id.in_([i for i in wanted.values() if i is not None]))))
    return SuppressionList(
        items=[_out(row, counts, wanted[row.id] if wanted[row.id] in present else None) for row in rows]
    )


def _decide(context: Context, suppression_id: str, decision: str, actor: str) -> SuppressionOut:
    with context.database.session() as session:
        try:
            row = suppression.decide(session, suppression_id, decision, actor)
        except LookupError as exc:
            raise HTTPException(404, detail=str(exc)) from exc
        except ValueError as exc:
            raise HTTPException(409, detail=str(exc)) from exc
        session.flush()
        counts = suppression.suppressed_counts(session, [row.id])
        answer = _out(row, counts, next(iter(row.event_ids), None))
    return answer


_DECIDE_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No such suppression"},
    409: {"model": Problem, "description": "Not possible in its status"},
}


@router.post(
    "/{suppression_id}/activate",
    response_model=SuppressionOut,
    summary="Activate a proposed (or revoked) suppression (admins; audited)",
    responses=_DECIDE_RESPONSES,
)
def activate(suppression_id: SuppressionId, context: Context, admin: Admin) -> SuppressionOut:
    """From now on matching events are kept `suppressed`: no case, no queue item, nothing published."""
    return _decide(context, suppression_id, "activate", admin.name)


@router.post(
    "/{suppression_id}/revoke",
    response_model=SuppressionOut,
    summary="Revoke (undo) a suppression or dismiss a proposal (admins; audited)",
    responses=_DECIDE_RESPONSES,
)
def revoke(suppression_id: SuppressionId, context: Context, admin: Admin) -> SuppressionOut:
    """Matching events alert again from now on; those already suppressed stay as they are."""
    return _decide(context, suppression_id, "revoke", admin.name)
