"""Rule schedules: the days and local time windows in which a rule is active."""

from __future__ import annotations

import re
from typing import Literal, get_args

from pydantic import Field, field_validator

from citywatch.config.base import ConfigModel

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = get_args(Weekday)
_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


class ScheduleConfig(ConfigModel):
    """When a rule is active, in the config's time zone; outside it the rule is idle.

    A window "HH:MM-HH:MM" whose end is earlier than its start crosses midnight and belongs to
    the day it starts on (fri "22:00-06:00" covers Saturday 03:00). No windows: all day.
    """

    days: list[Weekday] = Field(
        default_factory=lambda: list(WEEKDAYS),
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
