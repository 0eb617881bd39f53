"""The operator console: `GET /` serves the single-page app, `/static/...` its files, and the few
reads only the console needs (deployment facts, who the caller is, camera uptime).

Everything the console needs (HTML, ES modules, CSS, the vendored chart library) ships in
api/static, so it works with no internet; there is no build step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from api.deps import Context, QueryViewer, Viewer
from citywatch import __version__

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
MEDIA_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".json": "application/json",
    ".txt": "text/plain",
    ".md": "text/plain",
}

router = APIRouter(tags=["console"])


@router.get("/", response_class=FileResponse, include_in_schema=False)
def index() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache"})


@router.get("/api/console/config", summary="What the console needs to know about this deployment")
def console_config(context: Context) -> dict[str, Any]:
    """The city's time zone, the version, the districts, and each camera's groups (e.g. flood)."""
    cameras = context.config.cameras
    return {
        "timezone": context.config.timezone,
        "version": __version__,
        "districts": sorted({camera.district for camera in cameras if camera.district}),
        "camera_groups": {camera.id: list(camera.groups) for camera in cameras},
        "anonymous_read": context.config.api.anonymous_read,
    }


@router.get("/api/console/me", summary="Who the token belongs to")
def me(user: Viewer) -> dict[str, Any]:
    """The caller's name and role (viewer, operator, admin); the console shows only what the role
    may do, and the API refuses the rest anyway."""
    return {"name": user.name, "role": user.role, "anonymous": user.anonymous}


@router.get("/api/console/uptime", summary="Camera uptime since this process started")
def uptime(context: Context, user: QueryViewer) -> dict[str, Any]:
    """Per camera: seconds observed, seconds online, and their ratio (null before any sample)."""
    return {"cameras": context.uptime.snapshot() if context.uptime is not None else {}}


@router.get("/static/{path:path}", response_class=FileResponse, include_in_schema=False)
def static_file(path: str) -> FileResponse:
    file = (STATIC_DIR / path).resolve()
    if not file.is_relative_to(STATIC_DIR) or not file.is_file():
        raise HTTPException(404, detail="not found")
    media_type = MEDIA_TYPES.get(file.suffix, "application/octet-stream")
    return FileResponse(file, media_type=media_type, headers={"Cache-Control": "no-cache"})
