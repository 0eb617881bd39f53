"""Cameras: `GET /api/cameras` and `GET /api/cameras/{id}` with configuration, live health and
placement (`worker`, `node`), and `GET /api/cameras/{id}/latest.jpg`, the last analysed frame (the
console's thumbnail).

With `LIST_CACHE_MIN_CAMERAS` cameras or more the list is built at most once a second, in the
background (`api.cache`, refresh-ahead) and rendered once: a request is answered from the last
build on the event loop, so it does not wait for the GIL behind hundreds of camera threads while
the list of every camera's health is put together. The answer is then up to about a second old.
"""

from __future__ import annotations

from typing import Annotated, Any

import cv2
from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import Field, TypeAdapter
from sqlalchemy import func, select

from api.auth_responses import AUTH_RESPONSES
from api.cache import TtlCache
from api.deps import AppContext, Context, DbSession, QueryViewer, require_role
from api.schemas import CameraOut as CameraBase
from citywatch.config import CameraConfig
from citywatch.domain.tables import Event
from vision.evidence import encode_jpeg
from vision.streams import StreamHealth, health_snapshot, redact_url

router = APIRouter(
    prefix="/api/cameras", tags=["cameras"], dependencies=[Depends(require_role("viewer"))], responses=AUTH_RESPONSES
)


class CameraOut(CameraBase):
    """A configured camera with its live health and its place on the console's map (issue #17)."""

    position: dict[str, float] | None = Field(
        None,
        description="Where the camera is on the map: {lat, lon} in degrees or {x, y} in 0..1 of the map "
        "image (`cameras[].position`); null when not placed.",
        examples=[{"lat": 38.0465, "lon": 114.4772}],
    )


#: From this many cameras on, `GET /api/cameras` is served from a list rebuilt once a second.
LIST_CACHE_MIN_CAMERAS = 64
LIST_TTL_S = 1.0
_CAMERA_LIST = TypeAdapter(list[CameraOut])
#: Routes that take the token as a query parameter too (plain `<img>` tags cannot send headers).
images = APIRouter(prefix="/api/cameras", tags=["cameras"], responses=AUTH_RESPONSES)


#: The pipeline's live views of every camera: health, and pipeline status.
Live = tuple[dict[str, StreamHealth], dict[str, dict[str, Any]]]


def _live(context: AppContext) -> Live:
    """The live views, read once per request: each call walks every camera, so reading them per
    camera made a list of 350 cameras cost 350 x 350 pipeline status builds."""
    return (
        context.health() if context.health else {},
        context.pipeline_status() if context.pipeline_status else {},
    )


def _camera_out(
    context: AppContext,
    camera: CameraConfig,
    event_count: int,
    placement: dict[str, dict[str, Any]] | None = None,
    live: Live | None = None,
) -> CameraOut:
    if placement is None:
        placement = context.placement() if context.placement else {}
    healths, statuses = live if live is not None else _live(context)
    health = healths.get(camera.id)
    where = placement.get(camera.id)
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
        health=health_snapshot(health) if health is not None else None,
        analysis=statuses.get(camera.id),
        event_count=event_count,
        worker=where["worker"] if where else None,
        node=where["node"] if where else None,
        position=camera.position.model_dump(exclude_none=True) if camera.position else None,
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
async def list_cameras(context: Context) -> Response:
    """Every configured camera, its zones and rules, live health and number of events (from 64
    cameras on, as of at most about a second ago)."""
    cache = context.extras.get("camera_list_cache")
    if cache is None:
        cache = context.extras.setdefault("camera_list_cache", TtlCache(ttl_s=LIST_TTL_S, max_entries=1))
    many = len(context.config.cameras) >= LIST_CACHE_MIN_CAMERAS

    def compute() -> bytes:
        with context.database.read_session() as session:
            counts = _event_counts(session)
        placement = context.placement() if context.placement else {}
        live = _live(context)
        cameras = [
            _camera_out(context, camera, counts.get(camera.id, 0), placement, live) for camera in context.config.cameras
        ]
        return _CAMERA_LIST.dump_json(cameras)

    def keep(_body: bytes) -> bool:
        return many

    found, body = cache.get_cached("cameras", compute, keep)  # a hit is answered on the event loop
    if not found:
        body = await run_in_threadpool(cache.get_or_compute, "cameras", compute, keep)
    return Response(body, media_type="application/json")


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
