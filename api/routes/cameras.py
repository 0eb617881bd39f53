"""Cameras: `GET /api/cameras` and `GET /api/cameras/{id}` with configuration and live health."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy import func, select

from api.auth_responses import AUTH_RESPONSES
from api.deps import Context, DbSession, require_role
from api.models import Event
from api.schemas import CameraOut
from citywatch.config import CameraConfig
from citywatch.events import redact_url

router = APIRouter(
    prefix="/api/cameras", tags=["cameras"], dependencies=[Depends(require_role("viewer"))], responses=AUTH_RESPONSES
)


def _health(context: Context, camera_id: str) -> dict | None:
    if not context.health:
        return None
    health = context.health().get(camera_id)
    if health is None:
        return None
    from vision import streams

    snapshot = getattr(streams, "health_snapshot", None)
    if snapshot is not None:
        return snapshot(health)
    input_fps, analysed_fps = health.rates()
    return {
        "state": health.state,
        "last_frame_at": health.last_frame_wall_s,
        "last_frame_stream_s": health.last_frame_stream_s,
        "input_fps": round(input_fps, 2),
        "analysed_fps": round(analysed_fps, 2),
        "frames_dropped": health.frames_dropped,
        "reconnects": health.reconnects,
        "last_error": health.last_error,
    }


def _analysis(context: Context, camera_id: str) -> dict | None:
    status = context.extras.get("pipeline_status")
    return status().get(camera_id) if status else None


def _camera_out(context: Context, camera: CameraConfig, event_count: int) -> CameraOut:
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


@router.get("", response_model=list[CameraOut], summary="List cameras")
def list_cameras(context: Context, session: DbSession) -> list[CameraOut]:
    """Every configured camera, its zones and rules, live health and number of events."""
    counts = _event_counts(session)
    return [_camera_out(context, camera, counts.get(camera.id, 0)) for camera in context.config.cameras]


@router.get(
    "/{camera_id}", response_model=CameraOut, summary="One camera", responses={404: {"description": "No such camera"}}
)
def get_camera(camera_id: str, context: Context, session: DbSession) -> CameraOut:
    try:
        camera = context.config.camera(camera_id)
    except KeyError:
        raise HTTPException(404, detail=f"camera {camera_id!r} not found") from None
    return _camera_out(context, camera, _event_counts(session).get(camera_id, 0))
