"""Rules: what raises an event on a camera (parking, bay occupation, litter, floating debris,
waterlogging) and how its events become cases. `RuleConfig` is the union of every kind, told apart by `type:` (default
`illegal_parking`, the original shape)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from citywatch.config.base import NON_MOTOR_LABELS, VEHICLE_LABELS, ConfigModel, Identifier
from citywatch.config.schedule import ScheduleConfig

#: The four-wheel low-speed e-vehicle (老年代步车); with e-bikes and tricycles, the group `e_vehicle`.
LOW_SPEED_EV = "low_speed_ev"
#: Objects put in a parking bay to hold it (霸占停车资源), the group `occupier`.
OCCUPIER_LABELS = ("traffic_cone", "parking_lock", "chair", "obstacle")
#: Every label a rule may name: the Citywatch labels models are mapped onto (`vision.labels`), and
#: the groups `vehicle`, `non_motor`, `e_vehicle` and `occupier` that stand for their members.
RULE_LABELS = (
    *VEHICLE_LABELS,
    *NON_MOTOR_LABELS,
    LOW_SPEED_EV,
    *OCCUPIER_LABELS,
    "person",
    "litter",
    "water",
    "debris",
    "vehicle",
    "non_motor",
    "e_vehicle",
    "occupier",
)


class CasePolicyConfig(ConfigModel):
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
        24.0,
        gt=0.0,
        le=24.0 * 90,
        title="Deadline (h)",
        description="Hours from dispatch (派遣) to the disposal deadline when the dispatcher gives none.",
    )


class _RuleBase(ConfigModel):
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
        0.0,
        ge=0.0,
        title="Cooldown (s)",
        description="After an event in a zone, no further event of this rule in that zone for this long.",
    )
    rearm_s: float = Field(
        0.0,
        ge=0.0,
        title="Re-arm (s)",
        description="After an event's condition clears, it must stay clear this long before the same "
        "place can raise again.",
    )
    case: CasePolicyConfig = Field(
        default_factory=CasePolicyConfig, title="Case policy", description="How its events become cases."
    )

    @field_validator("labels", check_fields=False)
    @classmethod
    def _known_labels(cls, value: list[str]) -> list[str]:
        """A label that no model is mapped onto would never fire: refuse it, listing the known ones."""
        unknown = [label for label in value if label not in RULE_LABELS]
        if unknown:
            known = ", ".join(sorted(RULE_LABELS))
            raise ValueError(f"unknown label(s) {', '.join(map(repr, unknown))}; known labels: {known}")
        return value


class _DwellRuleBase(_RuleBase):
    min_dwell_s: float = Field(
        60.0, gt=0.0, title="Minimum dwell (s)", description="Stream seconds in the zone before an event."
    )
    min_dwell_min: float | None = Field(
        None,
        gt=0.0,
        title="Minimum dwell (min)",
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
    plates: bool = Field(
        False,
        title="Read plates",
        description="Read the staying vehicle's plate (the `plates:` section's reader) and put it on the event.",
    )


class NonMotorParkingRuleConfig(_DwellRuleBase):
    """A bicycle, e-bike or tricycle (or, when named in `labels`, a low-speed e-vehicle:
    `low_speed_ev`, or the group `e_vehicle`) parked outside the permitted area longer than the
    allowed dwell; the event's label says the vehicle kind the bureau counts."""

    type: Literal["non_motor_parking"]
    labels: list[str] = Field(
        default_factory=lambda: list(NON_MOTOR_LABELS),
        min_length=1,
        title="Labels",
        description="Detection labels that count as a parked non-motor vehicle (add low_speed_ev or "
        "e_vehicle for four-wheel low-speed e-vehicles).",
    )


class _BaselineFields(ConfigModel):
    """The model-free baseline's fields shared by the object rules (`vision.rules.background`)."""

    source: Literal["detector", "baseline", "both"] = Field(
        "baseline",
        title="Source",
        description="A trained detector's labels, the model-free background baseline, or both.",
    )
    min_area_frac: float = Field(
        0.0005, gt=0.0, lt=1.0, title="Minimum area", description="Smallest object, as a fraction of the image."
    )
    max_area_frac: float = Field(
        0.05, gt=0.0, le=1.0, title="Maximum area", description="Largest object, as a fraction of the image."
    )
    diff_threshold: float = Field(
        28.0,
        gt=0.0,
        le=255.0,
        title="Difference threshold",
        description="Grey-level difference from the background that counts as a change.",
    )
    warmup_s: float = Field(
        10.0,
        ge=0.0,
        title="Warm-up (s)",
        description="Stream seconds used to learn the first background (median), no events.",
    )


class LitterRuleConfig(_BaselineFields, _RuleBase):
    """Exposed garbage or floating debris staying in a zone longer than `persist_s`."""

    type: Literal["litter"]
    labels: list[str] = Field(
        default_factory=lambda: ["litter"],
        min_length=1,
        title="Labels",
        description="Detector labels that count as litter (source detector/both).",
    )
    persist_s: float = Field(60.0, gt=0.0, title="Persistence (s)", description="How long before an event.")
    grace_s: float = Field(5.0, ge=0.0, title="Grace (s)", description="How long an object may be unseen.")
    background_s: float = Field(
        600.0,
        gt=0.0,
        title="Background time constant (s)",
        description="How slowly the clean background learns (the slow rate).",
    )


class ParkingSpaceOccupiedRuleConfig(_BaselineFields, _DwellRuleBase):
    """A cone, ground lock, chair or box holding a parking bay for longer than the allowed dwell
    (霸占停车资源); one event per bay, ended when the bay is free of it for `grace_s`."""

    type: Literal["parking_space_occupied"]
    labels: list[str] = Field(
        default_factory=lambda: ["occupier"],
        min_length=1,
        title="Labels",
        description="Detector labels that count as an object holding a bay (source detector/both).",
    )
    min_dwell_s: float = Field(
        300.0, gt=0.0, title="Minimum dwell (s)", description="Stream seconds an object holds a bay before an event."
    )
    grace_s: float = Field(
        15.0,
        ge=0.0,
        title="Grace (s)",
        description="How long the bay may look free (occlusion, a missed frame) before the occupation ends.",
    )
    background_s: float = Field(
        1800.0,
        gt=0.0,
        title="Background time constant (s)",
        description="How slowly the empty-bay background learns; it never learns under an occupying object.",
    )


class FloatingDebrisRuleConfig(_BaselineFields, _RuleBase):
    """Floating debris (河面漂浮物) on a water zone for longer than `persist_s`; one event per item,
    also while it drifts."""

    type: Literal["floating_debris"]
    labels: list[str] = Field(
        default_factory=lambda: ["debris"],
        min_length=1,
        title="Labels",
        description="Detector labels that count as floating debris (source detector/both).",
    )
    anchor: Literal["bottom_center", "center"] = Field(
        "center", title="Anchor", description="Point of the box that must lie inside the water zone."
    )
    persist_s: float = Field(20.0, gt=0.0, title="Persistence (s)", description="How long before an event.")
    grace_s: float = Field(5.0, ge=0.0, title="Grace (s)", description="How long an item may be unseen.")
    diff_threshold: float = Field(
        30.0,
        gt=0.0,
        le=255.0,
        title="Difference threshold",
        description="Grey-level difference from the surface median that counts as a change (at least).",
    )
    noise_k: float = Field(
        4.0,
        ge=0.0,
        title="Noise factor",
        description="A change must also exceed this many times the pixel's own spread over the median "
        "window (ripples, glare), as a robust standard deviation.",
    )
    surface_s: float = Field(
        30.0,
        gt=0.0,
        le=600.0,
        title="Surface window (s)",
        description="Stream seconds whose median is the clean water surface (never learned under a live item).",
    )
    sample_s: float = Field(
        1.0, gt=0.0, title="Surface sample (s)", description="How often a frame joins the surface window."
    )
    max_speed: float = Field(
        0.05,
        gt=0.0,
        title="Maximum drift",
        description="Fastest drift of an item, in image widths per second (faster: a boat, a bird, not debris).",
    )


class WaterloggingRuleConfig(_RuleBase):
    """Water covering more than `threshold` of a road zone for longer than `persist_s`."""

    type: Literal["waterlogging"]
    labels: list[str] = Field(
        default_factory=lambda: ["water"],
        min_length=1,
        title="Labels",
        description="Detector/segmenter labels that count as water (source detector/both).",
    )
    source: Literal["detector", "baseline", "both"] = Field(
        "baseline",
        title="Source",
        description="A trained detector's water label, the model-free dry-reference baseline, or both.",
    )
    threshold: float = Field(0.3, gt=0.0, lt=1.0, title="Threshold", description="Covered fraction to alert.")
    clear_threshold: float | None = Field(
        None,
        gt=0.0,
        lt=1.0,
        title="Clear threshold",
        description="Fraction below which the alert clears (default: 0.7 x threshold).",
    )
    persist_s: float = Field(60.0, gt=0.0, title="Persistence (s)", description="Above threshold this long.")
    clear_s: float = Field(30.0, ge=0.0, title="Clear after (s)", description="Below the clear threshold this long.")
    reference_s: float = Field(
        10.0,
        ge=0.0,
        title="Dry reference (s)",
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
    | Annotated[WaterloggingRuleConfig, Tag("waterlogging")]
    | Annotated[ParkingSpaceOccupiedRuleConfig, Tag("parking_space_occupied")]
    | Annotated[FloatingDebrisRuleConfig, Tag("floating_debris")],
    Discriminator(_rule_type),
]
#: Every rule type, as written in `type:`.
RULE_TYPES = (
    "illegal_parking",
    "non_motor_parking",
    "litter",
    "waterlogging",
    "parking_space_occupied",
    "floating_debris",
)
DwellRuleConfig = IllegalParkingRuleConfig | NonMotorParkingRuleConfig
