"""A camera: its source, analysis rate, decode strategy, replay settings, zones, rules and its
position on the console's map."""

from __future__ import annotations

import re
from datetime import datetime
from fractions import Fraction
from typing import Any, Literal
from urllib.parse import quote, unquote

from pydantic import Field, ValidationInfo, field_validator, model_validator

from citywatch.config.base import ConfigModel, Identifier, Point, require_unique
from citywatch.config.map import PositionKind
from citywatch.config.record import RecordConfig
from citywatch.config.rules import RuleConfig


class ZoneConfig(ConfigModel):
    """A polygon on the camera image, in normalised (0..1) x, y so it survives a resolution change."""

    id: Identifier = Field(title="Zone id", description="Unique within the camera.")
    name: str | None = Field(None, title="Name", description="What operators call the place.")
    polygon: list[Point] = Field(
        min_length=3,
        title="Polygon",
        description="Vertices as [x, y], each in 0..1 of the image; a simple polygon (no edge crosses or "
        "touches another, no repeated vertex) with an area.",
    )

    @field_validator("polygon")
    @classmethod
    def _simple_polygon(cls, value: list[tuple[float, float]], info: ValidationInfo) -> list[tuple[float, float]]:
        problem = polygon_problem(value)
        if problem:
            raise ValueError(f"zone {info.data.get('id', '?')!r} {problem}")
        return value


def polygon_problem(points: list[tuple[float, float]]) -> str | None:
    """Why a polygon cannot be a zone (a repeated vertex, zero area, two edges that cross or touch),
    or None. Exact: the float coordinates are compared as fractions, so no tolerance hides a crossing.

    Example:
        >>> polygon_problem([(0.1, 0.1), (0.5, 0.5), (0.5, 0.1), (0.1, 0.5)])
        'crosses itself: edge 1 (0.1, 0.1)-(0.5, 0.5) meets edge 3 (0.5, 0.1)-(0.1, 0.5)'
    """
    p = [(Fraction(x), Fraction(y)) for x, y in points]
    n = len(p)
    for i in range(n):
        if p[i] == p[(i + 1) % n]:
            return f"repeats a vertex: {_point(points[i])} at positions {i + 1} and {(i + 1) % n + 1}"
    if all(_cross(p[0], p[1], q) == 0 for q in p[2:]):
        return "has zero area: its vertices lie on one line"
    for i in range(n):
        for j in range(i + 1, n):
            a, b, c, d = p[i], p[(i + 1) % n], p[j], p[(j + 1) % n]
            adjacent = j == i + 1 or (i == 0 and j == n - 1)
            if adjacent:  # they share a vertex; they meet elsewhere only when one doubles back on the other
                shared, far_a, far_c = (b, a, d) if j == i + 1 else (a, b, c)
                meets = _cross(shared, far_a, far_c) == 0 and (
                    _on_segment(far_c, shared, far_a) or _on_segment(far_a, shared, far_c)
                )
            else:
                meets = _segments_meet(a, b, c, d)
            if meets:
                edge_i = f"edge {i + 1} {_point(points[i])}-{_point(points[(i + 1) % n])}"
                edge_j = f"edge {j + 1} {_point(points[j])}-{_point(points[(j + 1) % n])}"
                return f"crosses itself: {edge_i} meets {edge_j}"
    return None  # simple, with vertices off one line: its area is not zero


_Exact = tuple[Fraction, Fraction]


def _point(point: tuple[float, float]) -> str:
    return f"({point[0]:g}, {point[1]:g})"


def _cross(o: _Exact, a: _Exact, b: _Exact) -> Fraction:
    """Twice the signed area of the triangle o, a, b (> 0: counter-clockwise)."""
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _on_segment(q: _Exact, a: _Exact, b: _Exact) -> bool:
    """q, known to be collinear with a-b, lies on the closed segment a-b."""
    return min(a[0], b[0]) <= q[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= q[1] <= max(a[1], b[1])


def _segments_meet(a: _Exact, b: _Exact, c: _Exact, d: _Exact) -> bool:
    """The closed segments a-b and c-d share at least one point."""
    d1, d2, d3, d4 = _cross(c, d, a), _cross(c, d, b), _cross(a, b, c), _cross(a, b, d)
    if ((d1 > 0 and d2 < 0) or (d1 < 0 and d2 > 0)) and ((d3 > 0 and d4 < 0) or (d3 < 0 and d4 > 0)):
        return True
    return (
        (d1 == 0 and _on_segment(a, c, d))
        or (d2 == 0 and _on_segment(b, c, d))
        or (d3 == 0 and _on_segment(c, a, b))
        or (d4 == 0 and _on_segment(d, a, b))
    )


class PositionConfig(ConfigModel):
    """Where a camera stands on the console's map: either `lat` and `lon` (WGS-84 degrees: for a
    tile map, a map image with `bounds`, or the schematic) or `x` and `y` (fractions 0..1 of the
    map image's width and height from its top-left corner, like zone points, so they survive a
    higher-resolution image). Exactly one pair.

    Example:
        >>> PositionConfig(lat=38.04, lon=114.51).kind
        'geo'
    """

    lat: float | None = Field(None, ge=-90.0, le=90.0, title="Latitude", description="Degrees north (WGS-84).")
    lon: float | None = Field(None, ge=-180.0, le=180.0, title="Longitude", description="Degrees east (WGS-84).")
    x: float | None = Field(
        None, ge=0.0, le=1.0, title="Image x", description="0..1 of the map image's width, from its left edge."
    )
    y: float | None = Field(
        None, ge=0.0, le=1.0, title="Image y", description="0..1 of the map image's height, from its top edge."
    )

    @model_validator(mode="after")
    def _one_pair(self) -> PositionConfig:
        geo = [name for name in ("lat", "lon") if getattr(self, name) is not None]
        image = [name for name in ("x", "y") if getattr(self, name) is not None]
        if geo and image:
            raise ValueError("position: give either lat and lon (degrees) or x and y (0..1 of the map image), not both")
        if not geo and not image:
            raise ValueError("position: give lat and lon (degrees) or x and y (0..1 of the map image)")
        if len(geo) == 1 or len(image) == 1:
            given = (geo or image)[0]
            missing = {"lat": "lon", "lon": "lat", "x": "y", "y": "x"}[given]
            raise ValueError(f"position: {given} given without {missing}")
        return self

    @property
    def kind(self) -> PositionKind:
        """`geo` (lat/lon) or `image` (x/y)."""
        return "geo" if self.lat is not None else "image"


class ReplayConfig(ConfigModel):
    """How a recorded file plays when it stands in for a camera."""

    speed: Literal["fast", "realtime"] | float = Field(
        "realtime",
        title="Speed",
        description="'fast' (as fast as analysis takes frames), 'realtime', or a factor such as 10.",
    )
    loop: bool = Field(False, title="Loop", description="Start again at the end of the file.")
    max_stream_s: float | None = Field(
        None,
        gt=0.0,
        title="Stream limit (s)",
        description="Stop a replay after this many stream seconds (bounds a looped replay).",
    )

    @field_validator("speed")
    @classmethod
    def _positive_speed(cls, value: Any) -> Any:
        if isinstance(value, float) and value <= 0:
            raise ValueError("speed factor must be greater than 0")
        return value


class CameraConfig(ConfigModel):
    """One camera (or a recorded file standing in for one) and what is watched on it."""

    id: Identifier = Field(title="Camera id", description="Unique; used in topics, paths and the API.")
    name: str = Field("", title="Name", description="Human-readable camera name.")
    district: str = Field("", title="District", description="Responsible district (区).")
    street: str = Field("", title="Street", description="Responsible street office (街道).")
    url: str = Field(
        min_length=1,
        title="Source",
        description="rtsp:// URL or a path to a video file. A password may hold '@', '/' or ':' as written "
        "(everything up to the last '@' is the user and password) or percent-encoded (p%40ss); the URL is "
        "kept percent-encoded, and shown anywhere only as user:***@host.",
    )
    analysis_fps: float = Field(2.0, gt=0.0, le=60.0, title="Analysis fps", description="Frames analysed a second.")
    enabled: bool = Field(True, title="Enabled", description="Disabled cameras are listed but not read.")
    decode: Literal["auto", "keyframes", "all"] = Field(
        "auto",
        title="Decode strategy",
        description="'keyframes' decodes only keyframes (analysis rate at or below the keyframe rate), "
        "'all' decodes every frame and converts only sampled ones; 'auto' picks from the keyframe rate.",
    )
    replay: ReplayConfig = Field(default_factory=ReplayConfig, title="Replay", description="For file sources.")
    record: RecordConfig = Field(
        default_factory=RecordConfig, title="Recording", description="Event clips (an MP4 per event)."
    )
    zones: list[ZoneConfig] = Field(default_factory=list, title="Zones", description="Named polygons.")
    rules: list[RuleConfig] = Field(default_factory=list, title="Rules", description="What raises events.")
    groups: list[Identifier] = Field(
        default_factory=list,
        title="Groups",
        description="Camera groups (e.g. flood) that modes address; none: only the mode's '*' entry.",
    )
    position: PositionConfig | None = Field(
        None,
        title="Map position",
        description="Where the camera is on the console's map (lat/lon or x/y); none: listed as not placed.",
    )
    start_time: datetime | None = Field(
        None,
        title="Start time",
        description="For recorded files: the local wall time of stream second 0, so schedules of a "
        "replay are deterministic (naive times are in the config's time zone).",
    )

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        scheme = value.split("://", 1)[0].lower() if "://" in value else "file"
        if scheme not in {"file", "rtsp", "rtsps", "http", "https"}:
            raise ValueError(f"unsupported URL scheme {scheme!r}: use rtsp://, http(s):// or a file path")
        return normalise_source_url(value)

    @model_validator(mode="after")
    def _references_resolve(self) -> CameraConfig:
        zone_ids = [zone.id for zone in self.zones]
        require_unique("zone", zone_ids)
        require_unique("rule", [rule.id for rule in self.rules])
        for rule in self.rules:
            unknown = [z for z in rule.zones if z not in zone_ids]
            if unknown:
                raise ValueError(f"rule {rule.id!r} names unknown zone(s) {unknown}; known: {zone_ids}")
        return self

    @property
    def is_file(self) -> bool:
        """True when the source is a recorded file rather than a live stream."""
        return "://" not in self.url or self.url.startswith("file://")


#: The scheme of a URL (`rtsp://`).
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
#: Characters a user name or password keeps as they are in the normalised URL (RFC 3986
#: sub-delimiters; letters, digits and `-._~` always stay): `@`, `/`, `:`, `?`, `#`, `%` are encoded.
USERINFO_SAFE = "!$&'()*+,;="


def split_source_url(url: str) -> tuple[str, str, str | None, str] | None:
    """(scheme://, user, password or None, host and the rest) of a URL that carries a user, else
    None. The user and password are everything between `://` and the last `@`, so a password with a
    raw `@`, `/` or `:` is understood; the host follows that `@`. A user without a password cannot
    hold a `/`, `?` or `#`: there the `@` belongs to the path (`rtsp://cam/live@main`). A `@` in the
    path of a URL with a password must be written `%40`.

    Example:
        >>> split_source_url("rtsp://admin:p@ss/w:rd@10.0.0.5:554/live")
        ('rtsp://', 'admin', 'p@ss/w:rd', '10.0.0.5:554/live')
    """
    scheme = _SCHEME.match(url)
    if scheme is None:
        return None
    prefix = scheme.group(0)
    userinfo, at, rest = url[len(prefix) :].rpartition("@")
    if not at:
        return None
    user, colon, password = userinfo.partition(":")
    if not colon and any(c in user for c in "/?#"):
        return None
    return prefix, user, password if colon else None, rest


def normalise_source_url(url: str) -> str:
    """The URL with its user and password percent-encoded (the form FFmpeg splits correctly and
    decodes before authenticating); unchanged without credentials. Idempotent: `%XX` is read as an
    encoded character, any other `%` as itself.

    Example:
        >>> normalise_source_url("rtsp://admin:p@ss/w:rd@10.0.0.5/live")
        'rtsp://admin:p%40ss%2Fw%3Ard@10.0.0.5/live'
    """
    parts = split_source_url(url)
    if parts is None:
        return url
    prefix, user, password, rest = parts
    userinfo = quote(unquote(user), safe=USERINFO_SAFE)
    if password is not None:
        userinfo += ":" + quote(unquote(password), safe=USERINFO_SAFE)
    return f"{prefix}{userinfo}@{rest}"
