"""Events: list with filters, one event, and its photo evidence."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse
from sqlalchemy import func, select

from api.deps import DbSession
from api.models import Event
from api.schemas import EventOut, EventPage, EvidenceOut

router = APIRouter(prefix="/api/events", tags=["events"])


def event_out(row: Event) -> EventOut:
    evidence = [
        EvidenceOut(kind=item["kind"], url=f"/api/events/{row.id}/evidence/{item['kind']}.jpg")
        for item in row.evidence or []
    ]
    return EventOut(
        id=row.id, uid=row.uid, type=row.type, camera_id=row.camera_id, rule_id=row.rule_id,
        zone_id=row.zone_id, label=row.label, track_id=row.track_id, first_seen_s=row.first_seen_s,
        triggered_s=row.triggered_s, ended_s=row.ended_s, duration_s=row.duration_s, score=row.score,
        box=row.box, review_status=row.review_status, occurred_at=row.occurred_at,
        snapshot_url=f"/api/events/{row.id}/snapshot.jpg", evidence=evidence,
    )


@router.get("", response_model=EventPage, summary="List events")
def list_events(
    session: DbSession,
    camera_id: Annotated[str | None, Query(description="Only this camera.")] = None,
    type: Annotated[str | None, Query(description="Only this event type, e.g. illegal_parking.")] = None,
    since: Annotated[datetime | None, Query(description="Occurred at or after (ISO 8601).")] = None,
    until: Annotated[datetime | None, Query(description="Occurred before (ISO 8601).")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> EventPage:
    """Events newest first (stable order: time, then id), filtered by camera, type and time."""
    query = select(Event)
    if camera_id:
        query = query.where(Event.camera_id == camera_id)
    if type:
        query = query.where(Event.type == type)
    if since:
        query = query.where(Event.occurred_at >= since)
    if until:
        query = query.where(Event.occurred_at < until)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Event.occurred_at.desc(), Event.id.desc()).limit(limit).offset(offset))
    return EventPage(items=[event_out(row) for row in rows], total=total, limit=limit, offset=offset)


def _get(session: DbSession, event_id: int) -> Event:
    row = session.get(Event, event_id)
    if row is None:
        raise HTTPException(404, detail=f"event {event_id} not found")
    return row


@router.get("/{event_id}", response_model=EventOut, summary="One event",
            responses={404: {"description": "No such event"}})
def get_event(event_id: int, session: DbSession) -> EventOut:
    return event_out(_get(session, event_id))


def _image(path: str | None) -> FileResponse:
    if not path:
        raise HTTPException(404, detail="this event has no such image")
    file = Path(path)  # written by the event sink, never taken from the request
    if not file.is_file():
        raise HTTPException(404, detail=f"image file missing: {file.name}")
    return FileResponse(file, media_type="image/jpeg")


@router.get("/{event_id}/snapshot.jpg", summary="The trigger snapshot (box and zone drawn)",
            response_class=FileResponse, responses={200: {"content": {"image/jpeg": {}}}, 404: {}})
def get_snapshot(event_id: int, session: DbSession) -> FileResponse:
    return _image(_get(session, event_id).snapshot_path)


@router.get("/{event_id}/evidence/{kind}.jpg", summary="One evidence image (entry, trigger, ...)",
            response_class=FileResponse, responses={200: {"content": {"image/jpeg": {}}}, 404: {}})
def get_evidence(event_id: int, kind: str, session: DbSession) -> FileResponse:
    row = _get(session, event_id)
    path = next((item["path"] for item in row.evidence or [] if item["kind"] == kind), None)
    return _image(path)
