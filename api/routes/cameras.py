"""Cameras: `GET /api/cameras` and `GET /api/cameras/{id}` with configuration and live health, and
`GET /api/cameras/{id}/latest.jpg`, the last analysed frame (the console's thumbnail)."""

from __future__ import annotations

from typing import Annotated, Any

import cv2
from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response
from sqlalchemy import func, select

from api.auth_responses import AUTH_RESPONSES
from api.deps import AppContext, Context, DbSession, QueryViewer, require_role
from api.schemas import CameraOut
from citywatch.config import CameraConfig
from citywatch.domain.tables import Event
from vision.evidence import encode_jpeg
from vision.streams import health_snapshot, redact_url

router = APIRouter(
    prefix="/api/cameras", tags=["cameras"], dependencies=[Depends(require_role("viewer"))], responses=AUTH_RESPONSES
)
#: Routes that take the token as a query parameter too (plain `<img>` tags cannot send headers).
images = APIRouter(prefix="/api/cameras", tags=["cameras"], responses=AUTH_RESPONSES)


def _health(context: AppContext, camera_id: str) -> dict[str, Any] | None:
    health = context.health().get(camera_id) if context.health else None
    return health_snapshot(health) if health is not None else None


def _analysis(context: AppContext, camera_id: str) -> dict[str, Any] | None:
    return context.pipeline_status().get(camera_id) if context.pipeline_status else None


def _camera_out(context: AppContext, camera: CameraConfig, event_count: int) -> CameraOut:
    return CameraOut(
        id=camera.id,
        name=camera.name,
        district=camera.district,
        street=camera.street,
        enabled=camera.enabled,
        source=redact_url(camera.url),
        analysis_fps=camera.analysis_fps,
        zones=[zone.model_dump() for zone in camera.zones],
        rules=[rule.model_dump() for rule in camera.rules],
        health=_health(context, camera.id),
        analysis=_analysis(context, camera.id),
        event_count=event_count,
    )


def _event_counts(session: DbSession) -> dict[str, int]:
    rows = session.execute(select(Event.camera_id, func.count()).group_by(Event.camera_id)).all()
    return {camera_id: count for camera_id, count in rows}


def _camera(context: AppContext, camera_id: str) -> CameraConfig:
    try:
        return context.config.camera(camera_id)
    except KeyError:
        raise HTTPException(404, detail=f"camera {camera_id!r} not found") from None


@router.get("", response_model=list[CameraOut], summary="List cameras")
def list_cameras(context: Context, session: DbSession) -> list[CameraOut]:
    """Every configured camera, its zones and rules, live health and number of events."""
    counts = _event_counts(session)
    return [_camera_out(context, camera, counts.get(camera.id, 0)) for camera in context.config.cameras]


@router.get(
    "/{camera_id}", response_model=CameraOut, summary="One camera", responses={404: {"description": "No such camera"}}
)
def get_camera(camera_id: str, context: Context, session: DbSession) -> CameraOut:
    camera = _camera(context, camera_id)
    return _camera_out(context, camera, _event_counts(session).get(camera_id, 0))


@images.get(
    "/{camera_id}/latest.jpg",
    summary="The camera's last analysed frame",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, 404: {}},
)
def latest_jpg(
    camera_id: str,
    context: Context,
    user: QueryViewer,
    width: Annotated[int | None, Query(ge=32, le=4096, description="Scale to this width.")] = None,
) -> Response:
    """JPEG of the last frame the pipeline analysed for this camera (404 before the first one)."""
    _camera(context, camera_id)
    frame = context.latest_frame(camera_id) if context.latest_frame is not None else None
    if frame is None:
        raise HTTPException(404, detail=f"no analysed frame yet for camera {camera_id!r}")
    image = frame.image
    if width and width < image.shape[1]:
        image = cv2.resize(image, (width, round(image.shape[0] * width / image.shape[1])), interpolation=cv2.INTER_AREA)
    return Response(
        encode_jpeg(image, quality=80),
        media_type="image/jpeg",
        headers={"Cache-Control": "no-store", "X-Stream-Seconds": f"{frame.stream_s:.3f}"},
    )
