"""Typed configuration: the YAML file an operator writes, validated before anything starts.

Each concern is one pydantic model (detector, storage, camera, zone, rule); `load_config` reads a
YAML file, expands `${VAR}` / `${VAR:-default}` references, validates it and, on failure, raises
`ConfigError` naming the file, the line, the field path and the reason.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

#: Labels a rule may name. Detector class names are mapped onto these (see `vision.labels`).
VEHICLE_LABELS = ("car", "truck", "bus", "motorcycle")
NON_MOTOR_LABELS = ("bicycle", "e-bike", "tricycle")

Point = tuple[Annotated[float, Field(ge=0.0, le=1.0)], Annotated[float, Field(ge=0.0, le=1.0)]]
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class _Model(BaseModel):
    """Base for config models: unknown keys are errors, so a typo never silently does nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DetectorConfig(_Model):
    """Which object detector runs, and how."""

    model: str = Field(
        "yolox_nano.onnx",
        title="Model",
        description="A bare file name looked up in the model store, or a path to a weights file.",
    )
    backend: Literal["auto", "yolox_onnx", "ultralytics"] = Field(
        "auto",
        title="Backend",
        description="'auto' picks onnxruntime for YOLOX-style .onnx files and ultralytics for the rest.",
    )
    model_dirs: list[str] = Field(
        default_factory=lambda: ["models", "../shared/models"],
        title="Model store",
        description="Directories searched for a bare model name, after $CITYWATCH_MODEL_DIR when it is set.",
    )
    confidence: float = Field(0.3, gt=0.0, lt=1.0, title="Confidence", description="Minimum detection score.")
    iou: float = Field(0.45, gt=0.0, lt=1.0, title="NMS IoU", description="IoU above which boxes merge.")
    input_size: int | None = Field(
        None, ge=32, le=4096, title="Input size", description="Square network input; default: the model's own."
    )
    threads: int | None = Field(
        None, ge=1, le=256, title="Threads", description="CPU threads for inference; default: the runtime's."
    )
    batch_size: int = Field(
        1, ge=1, le=64, title="Batch size", description="Most frames, across cameras, sent in one call."
    )
    batch_wait_ms: float = Field(
        20.0, ge=0.0, le=1000.0, title="Batch deadline", description="Longest a frame waits to fill a batch."
    )
    name: str | None = Field(
        None,
        title="Name",
        description="Name of this detector in `detectors:` (default: the model's manifest name).",
    )
    manifest: str | None = Field(
        None,
        title="Extra manifest",
        description="An operator's models.yaml consulted after the repo's (see `citywatch models add`).",
    )
    motion_gating: bool = Field(
        False,
        title="Motion gating",
        description="Skip detection on frames with no change inside the camera's zones.",
    )
    recheck_s: float = Field(
        10.0,
        gt=0.0,
        le=3600.0,
        title="Gating re-check (s)",
        description="With motion gating, detect at least this often (stream seconds) so parked vehicles "
        "stay tracked.",
    )
    motion_threshold: float = Field(
        0.005,
        gt=0.0,
        lt=1.0,
        title="Motion threshold",
        description="Fraction of zone pixels that must change (downscaled) for a frame to count as moving.",
    )
    motion_min_interval_s: float = Field(
        1.0,
        ge=0.0,
        le=60.0,
        title="Gating interval under motion (s)",
        description="With motion gating, while the zones keep changing, detect at most this often "
        "(0: every moving frame).",
    )


class StorageConfig(_Model):
    """Where events and their photo evidence are kept."""

    database_url: str = Field(
        "sqlite:///data/citywatch.db",
        title="Database URL",
        description="SQLAlchemy URL: sqlite:///path (embedded default) or postgresql+psycopg://...",
    )
    evidence_dir: str = Field(
        "data/evidence", title="Evidence directory", description="Where snapshot JPEGs are written."
    )
    spool_path: str | None = Field(
        None, title="Spool file",
        description="Local durable queue (SQLite) for events while the database is unreachable; "
        "default: spool.db beside the evidence directory.",
    )


class ZoneConfig(_Model):
    """A polygon on the camera image, in normalised (0..1) x, y so it survives a resolution change."""

    id: Identifier = Field(title="Zone id", description="Unique within the camera.")
    name: str | None = Field(None, title="Name", description="What operators call the place.")
    polygon: list[Point] = Field(
        min_length=3, title="Polygon", description="Vertices as [x, y], each in 0..1 of the image."
    )


class CasePolicyConfig(_Model):
    """How a rule's events become cases in the ledger (立案 policy)."""

    auto_register: bool = Field(
        False,
        title="Auto-register",
        description="Register (立案) a case straight from its event; else an operator reviews it first.",
    )
    priority: Literal["low", "normal", "high", "urgent"] = Field(
        "normal", title="Priority", description="Priority of cases opened by this rule."
    )
    deadline_h: float = Field(
        24.0, gt=0.0, le=24.0 * 90, title="Deadline (h)",
        description="Hours from dispatch (派遣) to the disposal deadline when the dispatcher gives none.",
    )


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


class ScheduleConfig(_Model):
    """When a rule is active, in the config's time zone; outside it the rule is idle.

    A window "HH:MM-HH:MM" whose end is earlier than its start crosses midnight and belongs to
    the day it starts on (fri "22:00-06:00" covers Saturday 03:00). No windows: all day.
    """

    days: list[Weekday] = Field(
        default_factory=lambda: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        min_length=1,
        title="Days",
        description="Weekdays the windows start on.",
    )
    windows: list[str] = Field(
        default_factory=list,
        title="Time windows",
        description='Local "HH:MM-HH:MM" ranges; end before start crosses midnight; none = all day.',
    )

    @field_validator("windows")
    @classmethod
    def _valid_windows(cls, value: list[str]) -> list[str]:
        for window in value:
            match = _WINDOW.match(window)
            if not match or (match.group(3) == "24" and match.group(4) != "00"):
                raise ValueError(f"bad time window {window!r}: expected HH:MM-HH:MM")
            if window[:5] == window[6:]:
                raise ValueError(f"empty time window {window!r}")
        return value


class _RuleBase(_Model):
    """Fields every rule has: id, zones, labels, anchor, schedule, cooldown and re-arm."""

    id: Identifier = Field(title="Rule id", description="Unique within the camera.")
    zones: list[Identifier] = Field(min_length=1, title="Zones", description="Zone ids this rule watches.")
    anchor: Literal["bottom_center", "center"] = Field(
        "bottom_center", title="Anchor", description="Point of the box that must lie inside the zone."
    )
    schedule: ScheduleConfig | None = Field(
        None, title="Schedule", description="Days and time windows when the rule is active (default: always)."
    )
    cooldown_s: float = Field(
        0.0, ge=0.0, title="Cooldown (s)",
        description="After an event in a zone, no further event of this rule in that zone for this long.",
    )
    rearm_s: float = Field(
        0.0, ge=0.0, title="Re-arm (s)",
        description="After an event's condition clears, it must stay clear this long before the same "
        "place can raise again.",
    )
    case: CasePolicyConfig = Field(
        default_factory=CasePolicyConfig, title="Case policy", description="How its events become cases."
    )


class _DwellRuleBase(_RuleBase):
    min_dwell_s: float = Field(
        60.0, gt=0.0, title="Minimum dwell (s)", description="Stream seconds in the zone before an event."
    )
    min_dwell_min: float | None = Field(
        None, gt=0.0, title="Minimum dwell (min)",
        description="Alternative to min_dwell_s, in minutes (give one of the two).",
    )
    grace_s: float = Field(
        10.0,
        ge=0.0,
        title="Grace (s)",
        description="How long a vehicle may be unseen (occlusion, missed detection) before its stay ends.",
    )

    @model_validator(mode="before")
    @classmethod
    def _minutes(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("min_dwell_min") is not None:
            if data.get("min_dwell_s") is not None:
                raise ValueError("give min_dwell_s or min_dwell_min, not both")
            minutes = data["min_dwell_min"]
            if isinstance(minutes, int | float) and minutes > 0:
                data = {**data, "min_dwell_s": float(minutes) * 60.0}
        return data


class IllegalParkingRuleConfig(_DwellRuleBase):
    """A motor vehicle staying in a no-parking zone longer than the allowed dwell."""

    type: Literal["illegal_parking"] = "illegal_parking"
    labels: list[str] = Field(
        default_factory=lambda: list(VEHICLE_LABELS),
        min_length=1,
        title="Labels",
        description="Detection labels that count as a parked vehicle.",
    )


class NonMotorParkingRuleConfig(_DwellRuleBase):
    """A bicycle, e-bike or tricycle parked outside the permitted area longer than the allowed dwell."""

    type: Literal["non_motor_parking"]
    labels: list[str] = Field(
        default_factory=lambda: list(NON_MOTOR_LABELS), min_length=1, title="Labels",
        description="Detection labels that count as a parked non-motor vehicle.",
    )


class LitterRuleConfig(_RuleBase):
    """Exposed garbage or floating debris staying in a zone longer than `persist_s`."""

    type: Literal["litter"]
    labels: list[str] = Field(
        default_factory=lambda: ["litter"], min_length=1, title="Labels",
        description="Detector labels that count as litter (source detector/both).",
    )
    source: Literal["detector", "baseline", "both"] = Field(
        "baseline", title="Source",
        description="A trained detector's litter label, the model-free background baseline, or both.",
    )
    persist_s: float = Field(60.0, gt=0.0, title="Persistence (s)", description="How long before an event.")
    grace_s: float = Field(5.0, ge=0.0, title="Grace (s)", description="How long an object may be unseen.")
    min_area_frac: float = Field(
        0.0005, gt=0.0, lt=1.0, title="Minimum area",
        description="Smallest object, as a fraction of the image."
    )
    max_area_frac: float = Field(
        0.05, gt=0.0, le=1.0, title="Maximum area", description="Largest object, as a fraction of the image."
    )
    diff_threshold: float = Field(
        28.0, gt=0.0, le=255.0, title="Difference threshold",
        description="Grey-level difference from the clean background that counts as a change.",
    )
    background_s: float = Field(
        600.0, gt=0.0, title="Background time constant (s)",
        description="How slowly the clean background learns (the slow rate).",
    )
    warmup_s: float = Field(
        10.0, ge=0.0, title="Warm-up (s)",
        description="Stream seconds used to learn the first clean background (median), no events.",
    )


class WaterloggingRuleConfig(_RuleBase):
    """Water covering more than `threshold` of a road zone for longer than `persist_s`."""

    type: Literal["waterlogging"]
    labels: list[str] = Field(
        default_factory=lambda: ["water"], min_length=1, title="Labels",
        description="Detector/segmenter labels that count as water (source detector/both).",
    )
    source: Literal["detector", "baseline", "both"] = Field(
        "baseline", title="Source",
        description="A trained detector's water label, the model-free dry-reference baseline, or both.",
    )
    threshold: float = Field(0.3, gt=0.0, lt=1.0, title="Threshold", description="Covered fraction to alert.")
    clear_threshold: float | None = Field(
        None, gt=0.0, lt=1.0, title="Clear threshold",
        description="Fraction below which the alert clears (default: 0.7 x threshold).",
    )
    persist_s: float = Field(60.0, gt=0.0, title="Persistence (s)", description="Above threshold this long.")
    clear_s: float = Field(
        30.0, ge=0.0, title="Clear after (s)", description="Below the clear threshold this long."
    )
    reference_s: float = Field(
        10.0, ge=0.0, title="Dry reference (s)",
        description="Stream seconds at start used to learn the dry reference (median).",
    )
    reference_image: str | None = Field(
        None, title="Dry reference image", description="An image of the dry scene (overrides reference_s)."
    )
    cell_px: int = Field(16, ge=4, le=128, title="Cell size", description="Analysis cell, in pixels.")

    @model_validator(mode="after")
    def _clear_below(self) -> WaterloggingRuleConfig:
        if self.clear_threshold is not None and self.clear_threshold > self.threshold:
            raise ValueError("clear_threshold must not exceed threshold")
        return self


def _rule_type(value: Any) -> str:
    """The rule's `type` tag; a rule without one is `illegal_parking` (the original shape)."""
    if isinstance(value, dict):
        return str(value.get("type", "illegal_parking"))
    return str(getattr(value, "type", "illegal_parking"))


RuleConfig = Annotated[
    Annotated[IllegalParkingRuleConfig, Tag("illegal_parking")]
    | Annotated[NonMotorParkingRuleConfig, Tag("non_motor_parking")]
    | Annotated[LitterRuleConfig, Tag("litter")]
    | Annotated[WaterloggingRuleConfig, Tag("waterlogging")],
    Discriminator(_rule_type),
]
#: Every rule type, as written in `type:`.
RULE_TYPES = ("illegal_parking", "non_motor_parking", "litter", "waterlogging")
DwellRuleConfig = IllegalParkingRuleConfig | NonMotorParkingRuleConfig


class ReplayConfig(_Model):
    """How a recorded file plays when it stands in for a camera."""

    speed: Literal["fast", "realtime"] | float = Field(
        "realtime",
        title="Speed",
        description="'fast' (as fast as analysis takes frames), 'realtime', or a factor such as 10.",
    )
    loop: bool = Field(False, title="Loop", description="Start again at the end of the file.")
    max_stream_s: float | None = Field(
        None, gt=0.0, title="Stream limit (s)",
        description="Stop a replay after this many stream seconds (bounds a looped replay).",
    )

    @field_validator("speed")
    @classmethod
    def _positive_speed(cls, value: Any) -> Any:
        if isinstance(value, float) and value <= 0:
            raise ValueError("speed factor must be greater than 0")
        return value


class CameraConfig(_Model):
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
        default_factory=list, title="Groups",
        description="Camera groups (e.g. flood) that modes address; none: only the mode's '*' entry.",
    )
    start_time: datetime | None = Field(
        None, title="Start time",
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
        duplicates = sorted({z for z in zone_ids if zone_ids.count(z) > 1})
        if duplicates:
            raise ValueError(f"duplicate zone ids: {', '.join(duplicates)}")
        rule_ids = [rule.id for rule in self.rules]
        duplicates = sorted({r for r in rule_ids if rule_ids.count(r) > 1})
        if duplicates:
            raise ValueError(f"duplicate rule ids: {', '.join(duplicates)}")
        for rule in self.rules:
            unknown = [z for z in rule.zones if z not in zone_ids]
            if unknown:
                raise ValueError(f"rule {rule.id!r} names unknown zone(s) {unknown}; known: {zone_ids}")
        return self

    @property
    def is_file(self) -> bool:
        """True when the source is a recorded file rather than a live stream."""
        return "://" not in self.url or self.url.startswith("file://")


class ModeGroupConfig(_Model):
    """What a mode does to one camera group."""

    rules: list[str] | Literal["all", "none"] = Field(
        "all", title="Rules",
        description="Active rules: 'all', 'none', or rule ids / rule types (e.g. [waterlogging]).",
    )
    analysis_fps: float | None = Field(
        None, gt=0.0, le=60.0, title="Analysis fps", description="Override of the camera's rate."
    )
    priority: Literal["normal", "high"] = Field(
        "normal", title="Detector priority", description="High-priority cameras are served first."
    )


class ModeConfig(_Model):
    """A named operating mode: per camera group, which rules run and how fast.

    A camera takes the entries of all its groups (union of rules, highest fps and priority); a
    camera with none of the mode's groups takes the '*' entry, or, without one, all its rules at
    its own rate.
    """

    description: str = Field("", title="Description")
    groups: dict[str, ModeGroupConfig] = Field(
        default_factory=dict, title="Groups", description="Camera group (or '*') to its settings."
    )


def _default_modes() -> dict[str, ModeConfig]:
    return {"normal": ModeConfig(description="Every rule of every camera at its own rate.")}


class ApiConfig(_Model):
    """The HTTP service."""

    host: str = Field("127.0.0.1", title="Host", description="Address the API listens on.")
    port: int = Field(8080, ge=1, le=65535, title="Port", description="TCP port of the API.")
    anonymous_read: bool = Field(
        True,
        title="Anonymous read",
        description="Let requests without a token read (viewer role); writes always need a token. "
        "Set false where the API is reachable beyond the bureau's network.",
    )
    threads: int = Field(
        4, ge=1, le=256, title="Request threads",
        description="Requests each API worker process runs at once in its thread pool (database work). "
        "Fewer threads contend less for Python's GIL, which keeps the slowest requests fast on small "
        "machines; more let a few slow requests (a big CSV export) block less. Further requests queue.",
    )


class MqttConfig(_Model):
    """The MQTT broker every event, case transition and camera status is published to."""

    enabled: bool = Field(False, title="Enabled", description="Publish to MQTT.")
    host: str = Field("127.0.0.1", title="Host", description="Broker host.")
    port: int = Field(1883, ge=1, le=65535, title="Port", description="Broker TCP port.")
    topic_prefix: str = Field(
        "citywatch", min_length=1, title="Topic prefix",
        description="Topics are <prefix>/events, <prefix>/cases and <prefix>/<camera>/status.",
    )
    username: str | None = Field(None, title="User name", description="Broker user, when it requires one.")
    password: str | None = Field(None, title="Password", description="Broker password (use ${VAR}).")
    qos: Literal[0, 1, 2] = Field(1, title="QoS", description="MQTT quality of service of every message.")


class WebhookConfig(_Model):
    """An HTTP endpoint that receives every event and case transition as a JSON POST."""

    url: str = Field(min_length=1, title="URL", description="http(s) URL the JSON is POSTed to.")
    kinds: list[Literal["event", "case"]] = Field(
        default_factory=lambda: ["event", "case"], title="Kinds", description="What is sent to it."
    )
    timeout_s: float = Field(5.0, gt=0.0, le=60.0, title="Timeout (s)", description="Per attempt.")
    retries: int = Field(5, ge=0, le=20, title="Retries", description="Attempts after the first one.")


class CitywatchConfig(_Model):
    """The whole configuration file."""

    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    detectors: list[DetectorConfig] = Field(
        default_factory=list,
        title="Extra detectors",
        description="Further named detectors (e.g. a litter model); each runs only for cameras whose "
        "rules need its labels.",
    )
    storage: StorageConfig = Field(default_factory=StorageConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    mqtt: MqttConfig = Field(default_factory=MqttConfig, title="MQTT", description="Publishing to a broker.")
    webhooks: list[WebhookConfig] = Field(
        default_factory=list, title="Webhooks", description="HTTP endpoints notified of events and cases."
    )
    timezone: str = Field("Asia/Shanghai", title="Time zone", description="The city's time zone (IANA name).")
    cameras: list[CameraConfig] = Field(min_length=1, title="Cameras", description="Cameras to watch.")
    modes: dict[Identifier, ModeConfig] = Field(
        default_factory=_default_modes, title="Modes",
        description="Operating modes (e.g. normal, flood); switched with `citywatch mode set` or "
        "PUT /api/mode.",
    )
    default_mode: Identifier = Field(
        "normal", title="Default mode",
        description="The mode until someone switches (and no switch is stored).",
    )
    mode_poll_s: float = Field(
        0.5, gt=0.0, le=60.0, title="Mode poll (s)",
        description="How often a running pipeline checks the database for a mode switched elsewhere.",
    )

    @model_validator(mode="after")
    def _unique_cameras(self) -> CitywatchConfig:
        ids = [camera.id for camera in self.cameras]
        duplicates = sorted({c for c in ids if ids.count(c) > 1})
        if duplicates:
            raise ValueError(f"duplicate camera ids: {', '.join(duplicates)}")
        if self.default_mode not in self.modes:
            raise ValueError(f"default_mode {self.default_mode!r} is not a mode: {sorted(self.modes)}")
        rule_names = {n for camera in self.cameras for rule in camera.rules for n in (rule.id, rule.type)}
        for mode_name, mode in self.modes.items():
            for group, entry in mode.groups.items():
                if isinstance(entry.rules, list):
                    unknown = sorted(set(entry.rules) - rule_names - set(RULE_TYPES))
                    if unknown:
                        raise ValueError(f"mode {mode_name!r} group {group!r}: unknown rule(s) {unknown}")
        return self

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    def camera(self, camera_id: str) -> CameraConfig:
        """The camera with this id; KeyError when there is none."""
        for camera in self.cameras:
            if camera.id == camera_id:
                return camera
        raise KeyError(camera_id)


class ConfigError(Exception):
    """A configuration file that cannot be used; the message names file, line, field and reason."""

    def __init__(self, path: str | Path, problems: list[str]):
        self.path = str(path)
        self.problems = problems
        super().__init__(f"invalid config {self.path}:\n" + "\n".join(f"  {p}" for p in problems))


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(text: str) -> str:
    """Replace `${VAR}` and `${VAR:-default}` with the environment's values."""

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = os.environ.get(name)
        if value is None or (value == "" and default is not None):
            if default is None:
                raise KeyError(name)
            return default
        return value

    return _ENV_REF.sub(substitute, text)


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the YAML node at a pydantic error location, or of its nearest parent."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
            if child is None:
                continue  # a missing field, or a union's tag: the parent's line is the best answer
            node = child
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        line = node.start_mark.line + 1
    return line


def parse_config(text: str, source: str | Path = "<string>") -> CitywatchConfig:
    """Validate YAML text into a `CitywatchConfig`; raises `ConfigError` with line and field."""
    try:
        expanded = expand_env(text)
    except KeyError as exc:
        raise ConfigError(source, [f"environment variable {exc.args[0]} is not set and has no default"]) from None
    try:
        root = yaml.compose(expanded, Loader=yaml.SafeLoader)
        data = yaml.safe_load(expanded)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ConfigError(source, [f"{where}not valid YAML: {getattr(exc, 'problem', exc)}"]) from None
    if not isinstance(data, dict):
        raise ConfigError(source, ["the file must be a YAML mapping with at least a 'cameras' list"])
    try:
        return CitywatchConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            loc = tuple(  # drop a rule union's tag: rules[0].min_dwell_s, not rules[0].illegal_parking...
                part for i, part in enumerate(loc)
                if not (part in RULE_TYPES and i >= 2 and loc[i - 2] == "rules" and isinstance(loc[i - 1], int))
            )
            field = ".".join(str(part) if not isinstance(part, int) else f"[{part}]" for part in loc)
            field = field.replace(".[", "[") or "(top level)"
            line = _line_of(root, loc)
            where = f"line {line}: " if line else ""
            problems.append(f"{where}{field}: {error['msg']}")
        raise ConfigError(source, problems) from None


def load_config(path: str | Path) -> CitywatchConfig:
    """Read and validate a config file; raises `ConfigError` for a missing or invalid file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, [f"cannot read the file: {exc.strerror or exc}"]) from None
    return parse_config(text, path)
