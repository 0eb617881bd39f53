"""Events: list with filters, one event, its photo evidence and video clip (`/api/events/{id}/clip.mp4`, with
range requests), and an operator's review (confirm/reject)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.auth_responses import AUTH_RESPONSES, BAD_BODY
from api.cache import page_total
from api.deps import AppContext, Context, DbSession, Operator, require_role
from api.responses import FastJSONResponse
from api.schemas import BulkReviewIn, BulkReviewItem, BulkReviewOut, EventOut, EventPage, Problem, ReviewIn, ReviewOut
from api.views import case_out, event_out, event_row_view
from citywatch.domain import ledger, suppression, wording, workflow
from citywatch.domain.payloads import EVENT_COLUMNS
from citywatch.domain.tables import Camera, Case, Event

EventId = Annotated[int, PathParam(ge=1, le=2_147_483_647, description="Event id.")]

router = APIRouter(
    prefix="/api/events", tags=["events"], dependencies=[Depends(require_role("viewer"))], responses=AUTH_RESPONSES
)


@router.get("", response_model=EventPage, summary="List events")
def list_events(
    context: Context,
    camera_id: Annotated[str | None, Query(description="Only this camera.")] = None,
    type: Annotated[str | None, Query(description="Only this event type, e.g. illegal_parking.")] = None,
    since: Annotated[datetime | None, Query(description="Occurred at or after (ISO 8601).")] = None,
    until: Annotated[datetime | None, Query(description="Occurred before (ISO 8601).")] = None,
    review_status: Annotated[
        str | None,
        Query(
            pattern="^(pending|confirmed|rejected|suppressed)$",
            description="pending, confirmed, rejected or suppressed (held back by an active suppression).",
        ),
    ] = None,
    case_id: Annotated[int | None, Query(ge=1, le=2_147_483_647, description="Only the evidence of this case.")] = None,
    district: Annotated[str | None, Query(max_length=100, description="Only cameras of this district.")] = None,
    street: Annotated[str | None, Query(max_length=100, description="Only cameras of this street.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> FastJSONResponse:
    """Events newest first (stable order: time, then id), filtered by camera, type, time, review
    status, case, district and street."""
    query = select(*EVENT_COLUMNS)
    if camera_id:
        query = query.where(Event.camera_id == camera_id)
    if type:
        query = query.where(Event.type == type)
    if review_status:
        query = query.where(Event.review_status == review_status)
    if case_id is not None:
        query = query.where(Event.case_id == case_id)
    if district or street:
        cameras = select(Camera.id)
        cameras = cameras.where(Camera.district == district) if district else cameras
        cameras = cameras.where(Camera.street == street) if street else cameras
        query = query.where(Event.camera_id.in_(cameras))
    if since:
        query = query.where(Event.occurred_at >= since)
    if until:
        query = query.where(Event.occurred_at < until)
    order = (Event.occurred_at.desc(), Event.id.desc())
    with context.database.read_session() as session:
        rows = session.connection().execute(query.order_by(*order).limit(limit).offset(offset))
        items = [event_row_view(row._asdict()) for row in rows]
    total = page_total(
        context,
        ("events", camera_id, type, since, until, review_status, case_id, district, street),
        select(func.count()).select_from(query.subquery()),
        offset,
        limit,
        len(items),
    )
    return FastJSONResponse({"items": items, "total": total, "limit": limit, "offset": offset})


def _get(session: Session, event_id: int) -> Event:
    row = session.get(Event, event_id)
    if row is None:
        raise HTTPException(404, detail=f"event {event_id} not found")
    return row


@router.get(
    "/{event_id}", response_model=EventOut, summary="One event", responses={404: {"description": "No such event"}}
)
def get_event(event_id: EventId, session: DbSession) -> EventOut:
    return event_out(_get(session, event_id))


def _image(path: str | None) -> FileResponse:
    if not path:
        raise HTTPException(404, detail="this event has no such image")
    file = Path(path)  # written by the event sink, never taken from the request
    if not file.is_file():
        raise HTTPException(404, detail=f"image file missing: {file.name}")
    return FileResponse(file, media_type="image/jpeg")


@router.get(
    "/{event_id}/snapshot.jpg",
    summary="The trigger snapshot (box and zone drawn)",
    response_class=FileResponse,
    responses={200: {"content": {"image/jpeg": {}}}, 404: {}},
)
def get_snapshot(event_id: EventId, session: DbSession) -> FileResponse:
    return _image(_get(session, event_id).snapshot_path)


@router.get(
    "/{event_id}/evidence/{kind}.jpg",
    summary="One evidence image (entry, trigger, ...)",
    response_class=FileResponse,
    responses={200: {"content": {"image/jpeg": {}}}, 404: {}},
)
def get_evidence(event_id: EventId, kind: str, session: DbSession) -> FileResponse:
    row = _get(session, event_id)
    path = next((item["path"] for item in row.evidence or [] if item["kind"] == kind), None)
    return _image(path)


@router.get(
    "/{event_id}/clip.mp4",
    summary="The event's video clip (MP4, range requests)",
    response_class=FileResponse,
    responses={200: {"content": {"video/mp4": {}}}, 206: {"description": "Part of the clip (Range)"}, 404: {}, 416: {}},
)
def get_clip(event_id: EventId, session: DbSession, context: Context) -> FileResponse:
    """The MP4 written around the event's trigger; `Range: bytes=a-b` answers 206 with that part, a
    range beyond the file 416. Only a file inside `storage.recordings_dir` is ever served (the stored
    path is relative to it; `..` or a symbolic link leading out is a 404)."""
    clip = _get(session, event_id).clip
    if not clip:
        raise HTTPException(404, detail=f"event {event_id} has no clip")
    root = context.config.storage.recordings_root.resolve()
    file = (root / clip).resolve()  # follows every link: the real file must be inside the root
    if not file.is_relative_to(root) or not file.is_file():
        raise HTTPException(404, detail=f"clip file missing for event {event_id}")
    return FileResponse(file, media_type="video/mp4")


@router.post(
    "/{event_id}/review",
    response_model=ReviewOut,
    summary="Confirm or reject an event",
    responses={
        404: {"model": Problem, "description": "No such event"},
        409: {"model": Problem, "description": "Already reviewed"},
        **BAD_BODY,
        **AUTH_RESPONSES,
    },
)
def review_event(event_id: EventId, body: ReviewIn, context: Context, user: Operator) -> ReviewOut:
    """confirm: the event's case is registered (立案), or the event attaches to the open case of its
    camera, zone and type, or opens one. reject: a false alarm, with a reason; a case still `new`
    whose every event is rejected becomes `rejected`. The answer comes after the commit."""
    if body.action == "reject" and not (body.reason or "").strip():
        raise HTTPException(
            422, detail=[{"loc": ["body", "reason"], "msg": "a reason is required to reject", "type": "missing"}]
        )
    with context.database.session() as session:
        answer = _review(session, context, event_id, body, user.name)
    return answer


def _review(session: Session, context: AppContext, event_id: int, body: ReviewIn, actor: str) -> ReviewOut:
    event = session.get(Event, event_id, with_for_update=True)
    if event is None:
        raise HTTPException(404, detail=f"event {event_id} not found")
    if event.review_status != "pending":
        raise HTTPException(409, detail=f"event {event_id} is already {event.review_status}")
    event.reviewed_by = actor
    case = session.get(Case, event.case_id, with_for_update=True) if event.case_id else None
    if body.action == "confirm":
        event.review_status = "confirmed"
        if case is None or case.status not in workflow.OPEN_STATUSES:
            policy = ledger.policy_for(context.config, event.camera_id, event.rule_id)
            case, _ = ledger.attach_event(session, event, policy, actor=actor, register=True)
        elif case.status == "new":
            request = ledger.TransitionRequest(to="registered", note=wording.event_confirmed(event.uid))
            ledger.transition(session, case, request, actor)
    else:
        event.review_status, event.review_reason = "rejected", body.reason
        session.flush()
        if case is not None and case.status == "new":
            pending = session.scalar(
                select(func.count(Event.id)).where(Event.case_id == case.id, Event.review_status != "rejected")
            )
            if not pending:
                ledger.transition(session, case, ledger.TransitionRequest(to="rejected", note=body.reason), actor)
        suppression.learn_from_rejection(session, event, context.config.feedback)  # may propose one here
    session.flush()
    return ReviewOut(event=event_out(event), case=case_out(case) if case is not None else None)


@router.post(
    "/bulk-review",
    response_model=BulkReviewOut,
    summary="Confirm or reject many events at once (operators)",
    responses={**BAD_BODY, **AUTH_RESPONSES},
)
def bulk_review(body: BulkReviewIn, context: Context, user: Operator) -> BulkReviewOut:
    """The same verdict on each event, each in its own transaction (one already reviewed or gone
    does not undo the others): per event 200 and its case, or 404 / 409 and why."""
    if body.action == "reject" and not (body.reason or "").strip():
        raise HTTPException(
            422, detail=[{"loc": ["body", "reason"], "msg": "a reason is required to reject", "type": "missing"}]
        )
    verdict = ReviewIn(action=body.action, reason=body.reason)
    results: list[BulkReviewItem] = []
    for event_id in dict.fromkeys(body.ids):  # each once, in the order asked
        try:
            with context.database.session() as session:
                answer = _review(session, context, event_id, verdict, user.name)
        except HTTPException as exc:
            results.append(BulkReviewItem(id=event_id, status=exc.status_code, detail=str(exc.detail)))
            continue
        case = answer.case
        results.append(
            BulkReviewItem(
                id=event_id, status=200, case_id=case.id if case else None, case_status=case.status if case else None
            )
        )
    return BulkReviewOut(reviewed=sum(1 for r in results if r.status == 200), results=results)
