"""The operator console: `GET /` serves the single-page app, `/static/...` its files, and the few
reads only the console needs (deployment facts, who the caller is, camera uptime).

Everything the console needs (HTML, ES modules, CSS, the vendored chart library) ships in
api/static, so it works with no internet; there is no build step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import FileResponse

from api.deps import Context, Viewer, current_principal
from api.routes.map import map_view
from citywatch import __version__
from citywatch.domain.accounts import Principal

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
def console_config(context: Context, caller: Annotated[Principal | None, Depends(current_principal)]) -> dict[str, Any]:
    """The city's time zone, the version, the districts, each camera's groups (e.g. flood) and
    the map (`api.routes.map.map_view`), for readers. The sign-in page asks without a token
    whether it may offer anonymous reading: when anonymous reads are off, that caller learns only
    `{"anonymous_read": false}`."""
    if caller is None and not context.config.api.anonymous_read:
        return {"anonymous_read": False}
    cameras = context.config.cameras
    return {
        "timezone": context.config.timezone,
        "version": __version__,
        "districts": sorted({camera.district for camera in cameras if camera.district}),
        "camera_groups": {camera.id: list(camera.groups) for camera in cameras},
        "anonymous_read": context.config.api.anonymous_read,
        "teams": [team.model_dump() for team in context.config.teams],
        "map": map_view(context.config),  # the map page's image or tiles, or the schematic
    }


@router.get("/api/console/me", summary="Who the token belongs to")
def me(user: Viewer) -> dict[str, Any]:
    """The caller's name and role (viewer, operator, admin); the console shows only what the role
    may do, and the API refuses the rest anyway."""
    return {"name": user.name, "role": user.role, "anonymous": user.anonymous}


@router.get("/api/console/uptime", summary="Camera uptime since this process started")
def uptime(context: Context, user: Viewer) -> dict[str, Any]:
    """Per camera: seconds observed, seconds online, and their ratio (null before any sample)."""
    return {"cameras": context.uptime.snapshot() if context.uptime is not None else {}}


@router.get("/static/{path:path}", response_class=FileResponse, include_in_schema=False)
def static_file(path: str) -> FileResponse:
    try:
        file = (STATIC_DIR / path).resolve()
        found = file.is_relative_to(STATIC_DIR) and file.is_file()
    except (ValueError, OSError):  # a NUL in the name, a name too long: no such file either
        found = False
    if not found:
        raise HTTPException(404, detail="not found")
    media_type = MEDIA_TYPES.get(file.suffix, "application/octet-stream")
    return FileResponse(file, media_type=media_type, headers={"Cache-Control": "no-cache"})
