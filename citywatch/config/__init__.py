"""Typed configuration: the YAML file an operator writes, validated before anything starts.

One pydantic model per concern, one module each, importing nothing else of the project (every
stage may depend on this package without a cycle): `detector`, `storage`, `camera` (zones,
replay, `record`), `rules` (with `schedule`), `modes`, `service` (the HTTP API), `publishing` (MQTT,
webhooks), assembled in `root.CitywatchConfig`. Every field has a title, a description and
bounds, so the schema is the reference. `loading.load_config` reads a file, expands
`${VAR}` / `${VAR:-default}`, validates it and, on failure, raises `ConfigError` naming the file,
the line, the field path and the reason.
"""

from citywatch.config.base import NON_MOTOR_LABELS, VEHICLE_LABELS, ConfigModel, Identifier, Point
from citywatch.config.camera import CameraConfig, ReplayConfig, ZoneConfig, normalise_source_url, split_source_url
from citywatch.config.cluster import ClusterConfig
from citywatch.config.detector import DetectorConfig
from citywatch.config.enforcement import EnforcementConfig
from citywatch.config.feedback import FeedbackConfig
from citywatch.config.loading import ConfigError, expand_env, load_config, parse_config
from citywatch.config.map import MapConfig
from citywatch.config.modes import ModeConfig, ModeGroupConfig
from citywatch.config.plates import PlatesConfig
from citywatch.config.publishing import MqttConfig, WebhookConfig
from citywatch.config.record import RecordConfig, RetainConfig
from citywatch.config.root import CitywatchConfig
from citywatch.config.rules import (
    RULE_TYPES,
    CasePolicyConfig,
    DwellRuleConfig,
    FloatingDebrisRuleConfig,
    IllegalParkingRuleConfig,
    LitterRuleConfig,
    NonMotorParkingRuleConfig,
    ParkingSpaceOccupiedRuleConfig,
    RuleConfig,
    WaterloggingRuleConfig,
)
from citywatch.config.schedule import ScheduleConfig
from citywatch.config.service import ApiConfig
from citywatch.config.storage import StorageConfig
from citywatch.config.teams import TeamConfig

__all__ = [
    "NON_MOTOR_LABELS",
    "RULE_TYPES",
    "VEHICLE_LABELS",
    "ApiConfig",
    "CameraConfig",
    "CasePolicyConfig",
    "CitywatchConfig",
    "ClusterConfig",
    "ConfigError",
    "ConfigModel",
    "DetectorConfig",
    "DwellRuleConfig",
    "EnforcementConfig",
    "FeedbackConfig",
    "FloatingDebrisRuleConfig",
    "Identifier",
    "IllegalParkingRuleConfig",
    "LitterRuleConfig",
    "MapConfig",
    "ModeConfig",
    "ModeGroupConfig",
    "MqttConfig",
    "NonMotorParkingRuleConfig",
    "ParkingSpaceOccupiedRuleConfig",
    "PlatesConfig",
    "Point",
    "RecordConfig",
    "ReplayConfig",
    "RetainConfig",
    "RuleConfig",
    "ScheduleConfig",
    "StorageConfig",
    "TeamConfig",
    "WaterloggingRuleConfig",
    "WebhookConfig",
    "ZoneConfig",
    "expand_env",
    "load_config",
    "normalise_source_url",
    "parse_config",
    "split_source_url",
]
