"""The console's map (一张图, issue #17): `GET /api/map/image`, the configured map image, and
`GET /api/map/tiles/{z}/{x}/{y}`, one tile of the configured local tile folder; `map_view`, what
`GET /api/console/config` says about the map. Nothing here reaches the internet.

Files are read only from the configured image or tile folder (the tile's path is built from whole
numbers and must resolve inside the folder, links included), bounded in size, and answered with an
ETag (a repeat request with `If-None-Match` gets a 304) and `Cache-Control: private`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, Response

from api.auth_responses import AUTH_RESPONSES
from api.deps import Context, QueryViewer
from citywatch.config import CitywatchConfig
from citywatch.config.map import MAX_ZOOM, MapImageConfig, MapTilesConfig

router = APIRouter(prefix="/api/map", tags=["map"], responses=AUTH_RESPONSES)

#: The largest map image served (a city plan as a big PNG is a few MB).
MAX_IMAGE_BYTES = 32 * 1024 * 1024
#: The largest tile served (a 256 x 256 raster tile is tens of KB).
MAX_TILE_BYTES = 2 * 1024 * 1024
#: Browsers may keep the image an hour and a tile a day; the console asks for the image with `?v=`
#: its modification time, so a replaced image is fetched again at once.
IMAGE_CACHE = "private, max-age=3600"
TILE_CACHE = "private, max-age=86400"
#: An SVG opened on its own runs no script and loads nothing (it is only ever an <img> in the console).
ASSET_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"
TILE_URL = "/api/map/tiles/{z}/{x}/{y}"


def map_view(config: CitywatchConfig) -> dict[str, Any]:
    """The console's view of the map: `kind` (`image`, `tiles` or `schematic`), its title, and
    the image's URL, size and bounds ([[south, west], [north, east]] or null) or the tiles' URL
    template, zooms, centre ([lat, lon]) and attribution."""
    map_config = config.map
    if map_config is None:
        return {"kind": "schematic", "title": ""}
    if map_config.image is not None:
        image = map_config.image
        bounds = image.bounds
        return {
            "kind": "image",
            "title": map_config.title,
            "image": {
                "url": f"/api/map/image?v={_version(Path(image.path))}",
                "width": image.width,
                "height": image.height,
                "bounds": [[bounds.south, bounds.west], [bounds.north, bounds.east]] if bounds else None,
            },
        }
    tiles = map_config.tiles
    assert tiles is not None  # MapConfig holds exactly one of image and tiles
    return {
        "kind": "tiles",
        "title": map_config.title,
        "tiles": {
            "url": TILE_URL,
            "min_zoom": tiles.min_zoom,
            "max_zoom": tiles.max_zoom,
            "center": [tiles.center.lat, tiles.center.lon],
            "zoom": tiles.zoom,
            "attribution": tiles.attribution,
        },
    }


def _version(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns // 1_000_000
    except OSError:  # missing: the image request then says so
        return 0


def _image_config(config: CitywatchConfig) -> MapImageConfig:
    if config.map is None or config.map.image is None:
        raise HTTPException(404, detail="no map image is configured (`map.image`)")
    return config.map.image


def _tiles_config(config: CitywatchConfig) -> MapTilesConfig:
    if config.map is None or config.map.tiles is None:
        raise HTTPException(404, detail="no tile folder is configured (`map.tiles`)")
    return config.map.tiles


def _send(request: Request, file: Path, limit: int, media_type: str, cache: str) -> Response:
    """`file` with an ETag and cache headers (304 when the browser holds this version already)."""
    try:
        stat = file.stat()
    except OSError:
        raise HTTPException(404, detail="not found") from None
    if stat.st_size > limit:
        raise HTTPException(500, detail=f"{file.name} is {stat.st_size} bytes, over the limit of {limit} bytes")
    etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
    headers = {"Cache-Control": cache, "ETag": etag, "Content-Security-Policy": ASSET_POLICY}
    if etag in [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return FileResponse(file, media_type=media_type, headers=headers)


@router.get(
    "/image",
    summary="The configured map image",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/svg+xml": {}}}, 304: {}, 404: {}},
)
def map_image(request: Request, context: Context, user: QueryViewer) -> Response:
    """The map image of `map.image` (404 when none is configured or the file is missing)."""
    image = _image_config(context.config)
    file = Path(image.path)
    if not file.is_file():
        raise HTTPException(404, detail=f"map image {image.path!r} not found")
    return _send(request, file, MAX_IMAGE_BYTES, image.media_type, IMAGE_CACHE)


@router.get(
    "/tiles/{z}/{x}/{y}",
    summary="One tile of the configured local tile folder",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, 304: {}, 404: {}},
)
def map_tile(
    request: Request,
    context: Context,
    user: QueryViewer,
    z: Annotated[int, PathParam(ge=0, le=MAX_ZOOM, description="Zoom level.")],
    x: Annotated[int, PathParam(ge=0, description="Column, 0 at the west.")],
    y: Annotated[int, PathParam(ge=0, description="Row, 0 at the north.")],
) -> Response:
    """The tile at zoom `z`, column `x`, row `y` (404 outside the configured zooms, off the world
    at that zoom, or missing from the folder: the map shows blank there)."""
    tiles = _tiles_config(context.config)
    if not tiles.min_zoom <= z <= tiles.max_zoom or x >= 2**z or y >= 2**z:
        raise HTTPException(404, detail=f"no tile {z}/{x}/{y} at zooms {tiles.min_zoom}..{tiles.max_zoom}")
    folder = Path(tiles.dir).resolve()
    file = (folder / tiles.tile_path(z, x, y)).resolve()
    if not file.is_relative_to(folder) or not file.is_file():
        raise HTTPException(404, detail=f"no tile {z}/{x}/{y}")
    return _send(request, file, MAX_TILE_BYTES, tiles.media_type, TILE_CACHE)
