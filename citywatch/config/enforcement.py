"""The `enforcement:` section: the parking enforcement workflow of a city (首违免罚, notices,
towing), per city, with defaults written down in docs/enforcement.md."""

from __future__ import annotations

from pydantic import Field

from citywatch.config.base import ConfigModel


class EnforcementConfig(ConfigModel):
    """How parking cases are enforced: the first-violation waiver and when to escalate."""

    waiver: bool = Field(
        True,
        title="First-violation waiver (首违免罚)",
        description="Offer the waiver to a vehicle's first violation within `lookback_days` that leaves "
        "within `grace_min` of the notice.",
    )
    lookback_days: float = Field(
        365.0,
        gt=0.0,
        le=3650.0,
        title="Look-back window (days)",
        description="A violation is a first one when the plate has no other confirmed or pending violation "
        "in this many days before it.",
    )
    grace_min: float = Field(
        15.0,
        gt=0.0,
        le=1440.0,
        title="Grace after notice (min)",
        description="Minutes the vehicle has to leave after the notice (phone or card) for the waiver.",
    )
    tow_after_min: float = Field(
        30.0,
        gt=0.0,
        le=1440.0,
        title="Tow after (min)",
        description="Minutes after the notice from which towing is the suggested next step when it is still there.",
    )
    strict_zones: list[str] = Field(
        default_factory=list,
        title="Strict road sections (严管路段)",
        description="`camera/zone` ids where no waiver is granted.",
        examples=[["campus-road/kerb"]],
    )
    auto_waiver: bool = Field(
        False,
        title="Waiver on departure",
        description="Record the waiver automatically (actor system:camera) when the camera sees an eligible "
        "vehicle leave within the grace after its notice; false (the default): the console offers it and an "
        "operator grants it.",
    )
    exempt_plates: list[str] = Field(
        default_factory=list,
        title="Exempt plates",
        description="Plates (no dot, e.g. 豫D12345) the city does not enforce parking on: ambulances, fire "
        "engines, registered residents' or works vehicles. Their cases show as exempt; notices, "
        "phone calls and towing are refused.",
    )
    exempt_suffixes: list[str] = Field(
        default_factory=lambda: ["警", "使", "领"],
        title="Exempt plate kinds",
        description="Plates ending in one of these characters are exempt: police (警), embassy (使) and "
        "consulate (领) vehicles are not the city bureau's to penalise (GA 36 special plates); [] "
        "enforces on them too.",
    )
