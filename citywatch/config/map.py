"""The console's map (一张图, issue #17): an operator-supplied map image or a folder of local tiles,
never an internet tile server; and `placement_problem`, whether the cameras' positions suit it.

With no `map:` section the console draws a plain schematic from the cameras' positions.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Literal

from pydantic import Field, field_validator, model_validator

from citywatch.config.base import ConfigModel

#: Map image file suffixes and the media type each is served with.
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
}
#: Tile file suffixes and their media types (raster tiles only).
TILE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}
#: The largest zoom level a tile map may name (OpenStreetMap-style tiles stop at about 20).
MAX_ZOOM = 22
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")

PositionKind = Literal["geo", "image"]
MapKind = Literal["image", "tiles", "schematic"]


class GeoPoint(ConfigModel):
    """A point in WGS-84 degrees."""

    lat: float = Field(ge=-90.0, le=90.0, title="Latitude", description="Degrees north (negative: south).")
    lon: float = Field(ge=-180.0, le=180.0, title="Longitude", description="Degrees east (negative: west).")


class GeoBounds(ConfigModel):
    """The geographic rectangle a map image covers, in WGS-84 degrees (edges of the image)."""

    south: float = Field(ge=-90.0, le=90.0, title="South", description="Latitude of the image's bottom edge.")
    west: float = Field(ge=-180.0, le=180.0, title="West", description="Longitude of the image's left edge.")
    north: float = Field(ge=-90.0, le=90.0, title="North", description="Latitude of the image's top edge.")
    east: float = Field(ge=-180.0, le=180.0, title="East", description="Longitude of the image's right edge.")

    @model_validator(mode="after")
    def _ordered(self) -> GeoBounds:
        if not self.south < self.north:
            raise ValueError(f"bounds: south ({self.south:g}) must be below north ({self.north:g})")
        if not self.west < self.east:
            raise ValueError(f"bounds: west ({self.west:g}) must be left of east ({self.east:g})")
        return self


class MapImageConfig(ConfigModel):
    """One picture of the city (a plan, a schematic, an exported map) that the console pans and zooms."""

    path: str = Field(
        min_length=1,
        title="Image file",
        description="A PNG, JPEG, WebP or SVG file (relative paths: from the directory Citywatch starts in).",
    )
    width: int = Field(
        gt=0,
        le=100_000,
        title="Width",
        description="The image's width in pixels (with the height, the map's aspect; for SVG, its viewBox width).",
    )
    height: int = Field(gt=0, le=100_000, title="Height", description="The image's height in pixels.")
    bounds: GeoBounds | None = Field(
        None,
        title="Geographic bounds",
        description="What the image's edges are in degrees, so cameras given by lat/lon are placed on it "
        "(linearly: fine for a city-sized plan); without it, cameras need x/y positions.",
    )

    @field_validator("path")
    @classmethod
    def _image_suffix(cls, value: str) -> str:
        suffix = PurePosixPath(value.replace("\\", "/")).suffix.lower()
        if suffix not in IMAGE_TYPES:
            raise ValueError(f"map image {value!r}: use one of {', '.join(sorted(IMAGE_TYPES))}")
        return value

    @property
    def media_type(self) -> str:
        """The media type the image is served with."""
        return IMAGE_TYPES[PurePosixPath(self.path.replace("\\", "/")).suffix.lower()]


class MapTilesConfig(ConfigModel):
    """Tiles (Web Mercator, the OpenStreetMap scheme) read from a local folder, never fetched online."""

    dir: str = Field(min_length=1, title="Tile folder", description="The folder holding the tiles.")
    template: str = Field(
        "{z}/{x}/{y}.png",
        min_length=1,
        max_length=200,
        title="Tile path template",
        description="A tile's path inside the folder, with {z}, {x} and {y} each once (e.g. {z}/{x}/{y}.png); "
        "relative, no '..'; suffix .png, .jpg, .jpeg or .webp.",
    )
    min_zoom: int = Field(
        0, ge=0, le=MAX_ZOOM, title="Least zoom", description="The widest zoom level there are tiles for."
    )
    max_zoom: int = Field(
        18, ge=0, le=MAX_ZOOM, title="Most zoom", description="The closest zoom level there are tiles for."
    )
    center: GeoPoint = Field(title="Centre", description="Where the map opens.")
    zoom: int = Field(14, ge=0, le=MAX_ZOOM, title="Opening zoom", description="The zoom level the map opens at.")
    attribution: str = Field(
        "", max_length=300, title="Attribution", description="The tiles' credit line, shown in the map's corner."
    )

    @field_validator("template")
    @classmethod
    def _safe_template(cls, value: str) -> str:
        names = _PLACEHOLDER.findall(value)
        if sorted(names) != ["x", "y", "z"]:
            raise ValueError(
                f"tile template {value!r} must hold {{z}}, {{x}} and {{y}} once each and nothing else in braces"
            )
        plain = _PLACEHOLDER.sub("0", value)
        if "{" in plain or "}" in plain:
            raise ValueError(f"tile template {value!r} has an unmatched brace")
        path = PurePosixPath(value.replace("\\", "/"))
        if path.is_absolute() or value.startswith(("/", "\\")) or ":" in value or ".." in path.parts:
            raise ValueError(f"tile template {value!r} must be a relative path inside the tile folder, without '..'")
        if path.suffix.lower() not in TILE_TYPES:
            raise ValueError(f"tile template {value!r}: tiles must be one of {', '.join(sorted(TILE_TYPES))}")
        return value

    @model_validator(mode="after")
    def _zooms(self) -> MapTilesConfig:
        if self.min_zoom > self.max_zoom:
            raise ValueError(f"tiles: min_zoom ({self.min_zoom}) is above max_zoom ({self.max_zoom})")
        if not self.min_zoom <= self.zoom <= self.max_zoom:
            raise ValueError(
                f"tiles: zoom {self.zoom} is outside min_zoom..max_zoom ({self.min_zoom}..{self.max_zoom})"
            )
        return self

    def tile_path(self, z: int, x: int, y: int) -> str:
        """The tile's path inside `dir` (no check that it exists)."""
        return self.template.replace("{z}", str(z)).replace("{x}", str(x)).replace("{y}", str(y))

    @property
    def media_type(self) -> str:
        """The media type tiles are served with."""
        return TILE_TYPES[PurePosixPath(self.template).suffix.lower()]


class MapConfig(ConfigModel):
    """The console's map page: exactly one of `image` or `tiles`.

    Example:
        >>> MapConfig(image={"path": "configs/maps/demo-city.svg", "width": 1200, "height": 800}).kind
        'image'
    """

    title: str = Field("", max_length=100, title="Title", description="Shown above the map (e.g. 新华区一张图).")
    image: MapImageConfig | None = Field(None, title="Map image", description="An operator-supplied map image.")
    tiles: MapTilesConfig | None = Field(None, title="Local tiles", description="A local folder of map tiles.")

    @model_validator(mode="after")
    def _one_source(self) -> MapConfig:
        if (self.image is None) == (self.tiles is None):
            raise ValueError("map: give exactly one of `image` (a map image) or `tiles` (a local tile folder)")
        return self

    @property
    def kind(self) -> MapKind:
        """`image` or `tiles`."""
        return "image" if self.image is not None else "tiles"


def placement_problem(map_config: MapConfig | None, positions: dict[str, PositionKind]) -> str | None:
    """Why some camera positions (camera id -> `geo` for lat/lon, `image` for x/y) cannot be placed
    on the map, or None. A tile map places lat/lon only; a map image x/y, and lat/lon when it has
    bounds; the schematic (no map) one kind for all cameras.

    Example:
        >>> placement_problem(None, {"a": "geo", "b": "image"})
        'cameras mix lat/lon (a) and x/y (b) positions: without a map image with bounds they cannot share one map'
    """
    geo = sorted(camera for camera, kind in positions.items() if kind == "geo")
    image = sorted(camera for camera, kind in positions.items() if kind == "image")
    if map_config is None:
        if geo and image:
            return (
                f"cameras mix lat/lon ({', '.join(geo)}) and x/y ({', '.join(image)}) positions: "
                "without a map image with bounds they cannot share one map"
            )
        return None
    if map_config.tiles is not None and image:
        return (
            f"camera(s) {', '.join(image)} have x/y positions, which only a map image places: "
            "give lat/lon for a tile map"
        )
    if map_config.image is not None and map_config.image.bounds is None and geo:
        return (
            f"camera(s) {', '.join(geo)} have lat/lon positions but the map image has no `bounds`: "
            "give the image's bounds, or x/y positions"
        )
    return None
