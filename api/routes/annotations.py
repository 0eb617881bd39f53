"""Box annotations (标注, issue #18): operators' labelled boxes on frames, kept for training.

`POST /api/annotations/frames` (operator) keeps a camera's current frame (the last analysed one)
durably under `<evidence_dir>/annotations/` and answers a `frame` reference to draw on;
`GET /api/annotations/frames/{camera}/{day}/{name}` serves it back. `POST /api/annotations`
(operator) stores boxes on an event's trigger evidence (`event_id`) or on a kept `frame`: the image
is on disk before the row, and 201 comes after the commit. `GET /api/annotations` pages them
(viewers), `GET /api/annotations/{id}/image.jpg` serves one's image, `DELETE /api/annotations/{id}`
(operator) marks one deleted, by whom and when (the row stays: audited).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from api.auth_responses import AUTH_RESPONSES, BAD_BODY
from api.deps import Context, DbSession, Operator, require_role
from api.schemas import Problem
from citywatch.domain import annotations as marking
from citywatch.domain.tables import Annotation, Event
from vision.evidence import encode_jpeg

router = APIRouter(
    prefix="/api/annotations",
    tags=["annotations"],
    dependencies=[Depends(require_role("viewer"))],
    responses=AUTH_RESPONSES,
)

#: A kept camera frame, as `store_frame` names it (nothing else is ever read from a request path).
_FRAME = re.compile(r"^annotations/([A-Za-z0-9][A-Za-z0-9_.-]{0,63})/(\d{8})/([0-9a-f]{64})\.jpg$")
AnnotationId = Annotated[str, PathParam(min_length=36, max_length=36, description="Annotation id (a UUID).")]


class BoxIn(BaseModel):
    """One labelled box, normalised to the image (0..1)."""

    label: str = Field(max_length=marking.MAX_LABEL, examples=["car"])
    box: list[float] = Field(min_length=4, max_length=4, examples=[[0.62, 0.05, 0.71, 0.2]])


class AnnotationIn(BaseModel):
    """Boxes on an event's evidence (`event_id`) or on a camera frame kept by `POST .../frames`
    (`frame`, with its `camera_id`, `stream_ts` and `taken_at` as that answer gave them)."""

    event_id: int | None = Field(
        None, ge=1, le=2_147_483_647, description="The event whose trigger evidence is annotated."
    )
    frame: str | None = Field(None, max_length=200, description="A kept frame's reference (`POST .../frames`).")
    camera_id: str | None = Field(None, max_length=64)
    stream_ts: float | None = Field(None, ge=0.0, le=1e9, description="Stream seconds of the frame.")
    taken_at: datetime | None = Field(None, description="When the frame was taken (UTC).")
    boxes: list[BoxIn] = Field(max_length=1000, description="The labelled boxes (may be empty: nothing to find).")


class AnnotationOut(BaseModel):
    """A stored annotation; `image_url` serves its image."""

    id: str
    camera_id: str
    stream_ts: float
    taken_at: datetime
    image_path: str = Field(description="Relative to `storage.evidence_dir`.")
    image_url: str
    boxes: list[dict[str, Any]]
    event_id: int | None
    created_by: str
    created_at: datetime


class AnnotationPage(BaseModel):
    items: list[AnnotationOut]
    total: int
    limit: int
    offset: int


class FrameIn(BaseModel):
    camera_id: str = Field(max_length=64, examples=["campus-road"])


class FrameOut(BaseModel):
    """A camera frame kept for annotation: send `frame`, `camera_id`, `stream_ts` and `taken_at` back
    with the boxes."""

    frame: str
    url: str
    camera_id: str
    stream_ts: float
    taken_at: datetime
    width: int
    height: int


def _out(row: Annotation) -> AnnotationOut:
    return AnnotationOut(
        id=row.id,
        camera_id=row.camera_id,
        stream_ts=row.stream_ts,
        taken_at=row.taken_at,
        image_path=row.image_path,
        image_url=f"/api/annotations/{row.id}/image.jpg",
        boxes=row.boxes,
        event_id=row.event_id,
        created_by=row.created_by,
        created_at=row.created_at,
    )


@router.post(
    "/frames",
    response_model=FrameOut,
    status_code=201,
    summary="Keep a camera's current frame to annotate (operators)",
    responses={404: {"model": Problem, "description": "No such camera, or no frame analysed yet"}, **BAD_BODY},
)
def keep_frame(body: FrameIn, context: Context, user: Operator) -> FrameOut:
    """The camera's last analysed frame, written durably under the evidence directory (the same
    frame is kept once); 404 before the pipeline has analysed one in this process."""
    if body.camera_id not in {camera.id for camera in context.config.cameras}:
        raise HTTPException(404, detail=f"camera {body.camera_id!r} not found")
    frame = context.latest_frame(body.camera_id) if context.latest_frame is not None else None
    if frame is None:
        raise HTTPException(404, detail=f"no analysed frame yet for camera {body.camera_id!r}")
    taken_at = datetime.fromtimestamp(frame.wall_s, UTC)
    try:
        path = marking.store_frame(
            context.config.storage.evidence_dir, body.camera_id, taken_at, encode_jpeg(frame.image, quality=92)
        )
    except OSError as exc:
        raise HTTPException(507, detail=f"the frame could not be written: {exc.strerror or exc}") from exc
    height, width = frame.image.shape[:2]
    return FrameOut(
        frame=path,
        url=f"/api/annotations/frames/{path.removeprefix('annotations/')}",
        camera_id=body.camera_id,
        stream_ts=frame.stream_s,
        taken_at=taken_at,
        width=width,
        height=height,
    )


def _kept_frame(context: Any, frame: str) -> Path:
    if not _FRAME.fullmatch(frame):
        raise HTTPException(422, detail=f"{frame!r} is not a frame reference from POST /api/annotations/frames")
    file = Path(context.config.storage.evidence_dir) / frame
    if not file.is_file():
        raise HTTPException(404, detail="no such kept frame")
    return file


@router.get(
    "/frames/{camera_id}/{day}/{name}",
    summary="A kept camera frame",
    response_class=FileResponse,
    responses={200: {"content": {"image/jpeg": {}}}, 404: {"model": Problem}},
)
def get_frame(camera_id: str, day: str, name: str, context: Context) -> FileResponse:
    reference = f"annotations/{camera_id}/{day}/{name}"
    if not _FRAME.fullmatch(reference):
        raise HTTPException(404, detail="no such kept frame")
    return FileResponse(_kept_frame(context, reference), media_type="image/jpeg")


@router.post(
    "",
    response_model=AnnotationOut,
    status_code=201,
    summary="Store boxes on an event's evidence or a kept frame (operators)",
    responses={
        404: {"model": Problem, "description": "No such event, or its evidence file is missing"},
        422: {"model": Problem, "description": "Bad boxes, labels or frame reference"},
        **AUTH_RESPONSES,
    },
)
def create_annotation(body: AnnotationIn, context: Context, user: Operator) -> AnnotationOut:
    """Labels must be Citywatch's (or `feedback.annotation_labels`); boxes lie within 0..1 with
    x1 < x2 and y1 < y2, at most `feedback.max_boxes`. The image is on disk before the row."""
    if (body.event_id is None) == (body.frame is None):
        raise HTTPException(422, detail="give either event_id or frame")
    feedback = context.config.feedback
    boxes = [box.model_dump() for box in body.boxes]
    evidence_dir = context.config.storage.evidence_dir
    with context.database.session() as session:
        if body.event_id is not None:
            event = session.get(Event, body.event_id)
            if event is None:
                raise HTTPException(404, detail=f"event {body.event_id} not found")
            image = marking.event_image(evidence_dir, event)
            if image is None:
                raise HTTPException(404, detail=f"event {body.event_id} has no evidence image to annotate")
            camera, stream_ts, taken_at = event.camera_id, event.triggered_s, event.occurred_at
        else:
            frame = body.frame or ""
            _kept_frame(context, frame)
            camera = _FRAME.fullmatch(frame).group(1)  # type: ignore[union-attr]
            if body.camera_id not in (None, camera) or body.stream_ts is None:
                raise HTTPException(
                    422, detail="a frame needs its camera_id and stream_ts as POST .../frames gave them"
                )
            image, stream_ts, taken_at = frame, body.stream_ts, body.taken_at or datetime.now(UTC)
        try:
            row = marking.add_annotation(
                session,
                image_path=image,
                boxes=boxes,
                created_by=user.name,
                event_id=body.event_id,
                labels=marking.allowed_labels(feedback.annotation_labels),
                max_boxes=feedback.max_boxes,
                camera_id=camera,
                stream_ts=stream_ts,
                taken_at=taken_at,
            )
        except marking.AnnotationError as exc:
            raise HTTPException(422, detail=exc.problems) from exc
        answer = _out(row)
    return answer


@router.get("", response_model=AnnotationPage, summary="List annotations (oldest frame first)")
def list_annotations(
    session: DbSession,
    since: Annotated[datetime | None, Query(description="Frames taken at or after (ISO 8601).")] = None,
    until: Annotated[datetime | None, Query(description="Frames taken before (ISO 8601).")] = None,
    camera_id: Annotated[str | None, Query(max_length=64, description="Only this camera.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> AnnotationPage:
    rows = marking.list_annotations(session, since, until, camera_id=camera_id, limit=limit, offset=offset)
    total = marking.count_annotations(session, since, until, camera_id=camera_id)
    return AnnotationPage(items=[_out(row) for row in rows], total=total, limit=limit, offset=offset)


@router.get(
    "/{annotation_id}/image.jpg",
    summary="An annotation's image",
    response_class=FileResponse,
    responses={200: {"content": {"image/jpeg": {}}}, 404: {"model": Problem}},
)
def get_image(annotation_id: AnnotationId, session: DbSession, context: Context) -> FileResponse:
    row = session.get(Annotation, annotation_id)
    if row is None or row.deleted_at is not None:
        raise HTTPException(404, detail=f"annotation {annotation_id} not found")
    root = Path(context.config.storage.evidence_dir).resolve()
    file = (root / row.image_path).resolve()  # written by this service; never outside the evidence root
    if not file.is_relative_to(root) or not file.is_file():
        raise HTTPException(404, detail=f"image file missing for annotation {annotation_id}")
    return FileResponse(file, media_type="image/jpeg")


@router.delete(
    "/{annotation_id}",
    status_code=204,
    summary="Delete an annotation (operators; audited)",
    responses={404: {"model": Problem, "description": "No such annotation"}},
)
def delete_annotation(annotation_id: AnnotationId, context: Context, user: Operator) -> None:
    """The row stays, marked deleted by the caller (`deleted_by`, `deleted_at`), out of every list."""
    with context.database.session() as session:
        if marking.delete_annotation(session, annotation_id, user.name) is None:
            raise HTTPException(404, detail=f"annotation {annotation_id} not found")
