"""Recorded video of the cameras for looking back (问题回溯): the indexed recordings of a camera
over a time range (the console's timeline), with the events of that range, and each recording's
MP4 (range requests). Rows come from `citywatch.recordings.index` (written once a file is durable);
only a file inside `storage.recordings_dir` is ever served."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import FileResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select

from api.auth_responses import AUTH_RESPONSES, BAD_BODY
from api.deps import Context, DbSession, Operator, require_role
from api.schemas import ExportOut, Problem
from citywatch.domain.tables import Event, Recording
from citywatch.recordings.exports import ExportError, export_to_case

router = APIRouter(tags=["recordings"], dependencies=[Depends(require_role("viewer"))], responses=AUTH_RESPONSES)
#: The longest range one listing covers (a week of 10 s segments is ~60 000 rows per camera).
MAX_RANGE = timedelta(days=7)
#: The most rows one listing returns (the console asks for a day: 8 640 segments of 10 s).
MAX_ROWS = 20_000
RecordingId = Annotated[int, Path(ge=1, le=2**63 - 1)]
CaseId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None:
        raise HTTPException(422, detail=[{"loc": ["query", field], "msg": "needs a UTC offset", "type": "value_error"}])
    return value


@router.get(
    "/api/cameras/{camera_id}/recordings",
    summary="A camera's recordings and events over a time range (the timeline)",
    responses={404: {"description": "No such camera"}, 422: {"description": "Bad range"}},
)
def list_recordings(
    camera_id: str,
    context: Context,
    session: DbSession,
    start: Annotated[datetime, Query(description="ISO 8601 with offset")],
    end: Annotated[datetime, Query(description="ISO 8601 with offset, after start, at most 7 days on")],
) -> dict[str, Any]:
    """Every recording overlapping [start, end) (segments and exports, by start), and the
    events of the range with their clip's URL. A known camera with none answers an empty list."""
    if not any(camera.id == camera_id for camera in context.config.cameras):
        raise HTTPException(404, detail=f"no camera {camera_id!r}")
    start, end = _aware(start, "start"), _aware(end, "end")
    if not start < end <= start + MAX_RANGE:
        raise HTTPException(
            422,
            detail=[
                {"loc": ["query", "end"], "msg": "end must be after start, at most 7 days on", "type": "value_error"}
            ],
        )
    rows = session.scalars(
        select(Recording)
        .where(Recording.camera_id == camera_id, Recording.start_at < end, Recording.end_at > start)
        .order_by(Recording.start_at, Recording.id)
        .limit(MAX_ROWS)
    ).all()
    events = session.execute(
        select(Event.id, Event.type, Event.occurred_at, Event.clip)
        .where(Event.camera_id == camera_id, Event.occurred_at >= start, Event.occurred_at < end)
        .order_by(Event.occurred_at)
        .limit(MAX_ROWS)
    ).all()
    return {
        "camera_id": camera_id,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "recordings": [_recording_out(row, _count(row, events)) for row in rows],
        "events": [
            {
                "id": event.id,
                "type": event.type,
                "occurred_at": event.occurred_at.isoformat(),
                "clip_url": f"/api/events/{event.id}/clip.mp4" if event.clip else None,
            }
            for event in events
        ],
    }


def _count(row: Recording, events: Any) -> int:
    return sum(1 for event in events if row.start_at <= event.occurred_at < row.end_at)


def _recording_out(row: Recording, events: int) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "start": row.start_at.isoformat(),
        "end": row.end_at.isoformat(),
        "duration_s": row.duration_s,
        "bytes": row.bytes,
        "motion": row.motion,
        "case_id": row.case_id,
        "events": events,
        "url": f"/api/recordings/{row.id}/video.mp4",
    }


@router.get(
    "/api/recordings/{recording_id}/video.mp4",
    summary="One recording's MP4 (range requests)",
    response_class=FileResponse,
    responses={200: {"content": {"video/mp4": {}}}, 206: {"description": "Part (Range)"}, 404: {}, 416: {}},
)
def get_recording_video(recording_id: RecordingId, context: Context, session: DbSession) -> FileResponse:
    """The file of one recording; `Range: bytes=a-b` answers 206, a range past the end 416. A stored
    path leading out of the recordings directory (`..`, a symbolic link) is a 404."""
    row = session.get(Recording, recording_id)
    if row is None:
        raise HTTPException(404, detail=f"no recording {recording_id}")
    root = context.config.storage.recordings_root.resolve()
    file = (root / row.path).resolve()  # follows every link: the real file must be inside the root
    if not file.is_relative_to(root) or not file.is_file():
        raise HTTPException(404, detail=f"file missing for recording {recording_id}")
    return FileResponse(file, media_type="video/mp4")


class ExportIn(BaseModel):
    """A range of one camera to export to a case (at most an hour)."""

    model_config = ConfigDict(extra="forbid")

    camera_id: str = Field(min_length=1, max_length=64)
    start: AwareDatetime
    end: AwareDatetime


@router.post(
    "/api/cases/{case_id}/exports",
    status_code=201,
    response_model=ExportOut,
    summary="Export a camera's recorded range to a case (operators)",
    responses={
        404: {"model": Problem, "description": "No such case or camera"},
        507: {"model": Problem, "description": "The recordings disk is full"},
        **BAD_BODY,
    },
)
def export_range_to_case(case_id: CaseId, body: ExportIn, context: Context, user: Operator) -> dict[str, Any]:
    """Joins the camera's segments over [start, end) into one MP4 (stream copy) and attaches it to
    the case with an audited `export` action; 201 comes once the file and its row are stored."""
    try:
        row = export_to_case(
            context.database,
            context.config.storage.recordings_root,
            case_id=case_id,
            camera_id=body.camera_id,
            start=body.start,
            end=body.end,
            actor=user.name,
        )
    except ExportError as exc:
        if exc.status == 422:  # bad range, or nothing recorded in it: in the shape of a validation error
            where = ["body", exc.field] if exc.field else ["body"]
            raise HTTPException(422, detail=[{"loc": where, "msg": str(exc), "type": "value_error"}]) from exc
        raise HTTPException(exc.status, detail=str(exc)) from exc
    return export_out(row)


def export_out(row: Recording) -> dict[str, Any]:
    """An export as the case page lists it (`api.schemas.ExportOut`)."""
    return {
        "id": row.id,
        "camera_id": row.camera_id,
        "start": row.start_at.isoformat(),
        "end": row.end_at.isoformat(),
        "duration_s": row.duration_s,
        "bytes": row.bytes,
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "url": f"/api/recordings/{row.id}/video.mp4",
    }
