"""A camera: its source, analysis rate, decode strategy, replay settings, zones and rules."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from citywatch.config.base import ConfigModel, Identifier, Point, require_unique
from citywatch.config.rules import RuleConfig


class ZoneConfig(ConfigModel):
    """A polygon on the camera image, in normalised (0..1) x, y so it survives a resolution change."""

    id: Identifier = Field(title="Zone id", description="Unique within the camera.")
    name: str | None = Field(None, title="Name", description="What operators call the place.")
    polygon: list[Point] = Field(
        min_length=3, title="Polygon", description="Vertices as [x, y], each in 0..1 of the image."
    )


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
    url: str = Field(min_length=1, title="Source", description="rtsp:// URL or a path to a video file.")
    analysis_fps: float = Field(2.0, gt=0.0, le=60.0, title="Analysis fps", description="Frames analysed a second.")
    enabled: bool = Field(True, title="Enabled", description="Disabled cameras are listed but not read.")
    decode: Literal["auto", "keyframes", "all"] = Field(
        "auto",
        title="Decode strategy",
        description="'keyframes' decodes only keyframes (analysis rate at or below the keyframe rate), "
        "'all' decodes every frame and converts only sampled ones; 'auto' picks from the keyframe rate.",
    )
    replay: ReplayConfig = Field(default_factory=ReplayConfig, title="Replay", description="For file sources.")
    zones: list[ZoneConfig] = Field(default_factory=list, title="Zones", description="Named polygons.")
    rules: list[RuleConfig] = Field(default_factory=list, title="Rules", description="What raises events.")
    groups: list[Identifier] = Field(
        default_factory=list,
        title="Groups",
        description="Camera groups (e.g. flood) that modes address; none: only the mode's '*' entry.",
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
        return value

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
