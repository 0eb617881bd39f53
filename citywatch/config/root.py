"""The whole configuration file (`CitywatchConfig`): every section, and the checks across them."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from citywatch.config.base import ConfigModel, Identifier, require_unique
from citywatch.config.camera import CameraConfig
from citywatch.config.cluster import ClusterConfig
from citywatch.config.detector import DetectorConfig
from citywatch.config.enforcement import EnforcementConfig
from citywatch.config.feedback import FeedbackConfig
from citywatch.config.map import MapConfig, placement_problem
from citywatch.config.modes import ModeConfig, default_modes
from citywatch.config.plates import PlatesConfig
from citywatch.config.publishing import MqttConfig, WebhookConfig
from citywatch.config.rules import RULE_TYPES
from citywatch.config.service import ApiConfig
from citywatch.config.storage import StorageConfig
from citywatch.config.teams import TeamConfig, default_teams


class CitywatchConfig(ConfigModel):
    """The whole configuration file."""

    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    detectors: list[DetectorConfig] = Field(
        default_factory=list,
        title="Extra detectors",
        description="Further named detectors (e.g. a litter model); each runs only for cameras whose "
        "rules need its labels.",
    )
    enforcement: EnforcementConfig = Field(
        default_factory=EnforcementConfig,
        title="Enforcement",
        description="The parking enforcement workflow: first-violation waiver, grace, towing, strict sections.",
    )
    feedback: FeedbackConfig = Field(
        default_factory=FeedbackConfig,
        title="Feedback",
        description="Learning from operators: suppressions from rejected alerts, box annotations.",
    )
    teams: list[TeamConfig] = Field(
        default_factory=default_teams,
        title="Teams",
        description="Enforcement teams cases are dispatched to (per district, with a contact).",
    )
    plates: PlatesConfig = Field(
        default_factory=PlatesConfig,
        title="Plates",
        description="Plate reading for parking rules with `plates: true`: models and reading rate.",
    )
    storage: StorageConfig = Field(default_factory=StorageConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    mqtt: MqttConfig = Field(default_factory=MqttConfig, title="MQTT", description="Publishing to a broker.")
    webhooks: list[WebhookConfig] = Field(
        default_factory=list, title="Webhooks", description="HTTP endpoints notified of events and cases."
    )
    cluster: ClusterConfig = Field(
        default_factory=ClusterConfig,
        title="Cluster",
        description="Which engine runs the camera groups: inline (one process) or ray (worker processes).",
    )
    map: MapConfig | None = Field(
        None,
        title="Map",
        description="The console's map page: a map image or a local tile folder; none: a plain schematic "
        "of the cameras' positions.",
    )
    timezone: str = Field("Asia/Shanghai", title="Time zone", description="The city's time zone (IANA name).")
    cameras: list[CameraConfig] = Field(min_length=1, title="Cameras", description="Cameras to watch.")
    modes: dict[Identifier, ModeConfig] = Field(
        default_factory=default_modes,
        title="Modes",
        description="Operating modes (e.g. normal, flood); switched with `citywatch mode set` or PUT /api/mode.",
    )
    default_mode: Identifier = Field(
        "normal",
        title="Default mode",
        description="The mode until someone switches (and no switch is stored).",
    )
    mode_poll_s: float = Field(
        0.5,
        gt=0.0,
        le=60.0,
        title="Mode poll (s)",
        description="How often a running pipeline checks the database for a mode switched elsewhere.",
    )

    @model_validator(mode="after")
    def _unique_cameras(self) -> CitywatchConfig:
        require_unique("camera", [camera.id for camera in self.cameras])
        require_unique("team", [team.id for team in self.teams])
        if self.default_mode not in self.modes:
            raise ValueError(f"default_mode {self.default_mode!r} is not a mode: {sorted(self.modes)}")
        rule_names = {n for camera in self.cameras for rule in camera.rules for n in (rule.id, rule.type)}
        for mode_name, mode in self.modes.items():
            for group, entry in mode.groups.items():
                if isinstance(entry.rules, list):
                    unknown = sorted(set(entry.rules) - rule_names - set(RULE_TYPES))
                    if unknown:
                        raise ValueError(f"mode {mode_name!r} group {group!r}: unknown rule(s) {unknown}")
        placed = {camera.id: camera.position.kind for camera in self.cameras if camera.position is not None}
        problem = placement_problem(self.map, placed)
        if problem:
            raise ValueError(f"map: {problem}")
        return self

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
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
