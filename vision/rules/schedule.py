"""Schedules, wall time, cooldown and re-arm: the pure timing decisions every rule shares.

* `schedule_active(schedule, local_dt)`: is a rule active at a local wall time? Days name the
  weekday a window *starts* on; a window whose end is before its start crosses midnight (fri
  "22:00-06:00" covers Saturday 03:00, not Friday 03:00). No windows: all day on those days.
* `wall_time(...)`: the wall time a frame stands for. A recorded file with a camera `start_time`
  maps stream second s to `start_time + s` (deterministic, whatever the replay speed); live
  cameras (and files without `start_time`) use the frame's arrival wall time.
* `Gate`: cooldown and re-arm of one place (a zone, an object) as immutable state with pure
  transitions: `may_fire`, `fired`, `cleared`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from citywatch.config import ScheduleConfig

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_window(window: str) -> tuple[time, time | None]:
    """'HH:MM-HH:MM' to (start, end); end None means 24:00."""
    start_text, end_text = window.split("-")
    start = time(int(start_text[:2]), int(start_text[3:]))
    end = None if end_text == "24:00" else time(int(end_text[:2]), int(end_text[3:]))
    return start, end


def schedule_active(schedule: ScheduleConfig | None, local: datetime) -> bool:
    """True when `local` (a wall time in the config's time zone) is inside the schedule."""
    if schedule is None:
        return True
    today = WEEKDAYS[local.weekday()]
    yesterday = WEEKDAYS[(local.weekday() - 1) % 7]
    if not schedule.windows:
        return today in schedule.days
    now = local.time().replace(tzinfo=None)
    for window in schedule.windows:
        start, end = parse_window(window)
        if end is None or start < end:  # same-day window
            if today in schedule.days and start <= now and (end is None or now < end):
                return True
        else:  # crosses midnight: [start, 24:00) today, or [00:00, end) on the day after a start day
            if today in schedule.days and now >= start:
                return True
            if yesterday in schedule.days and now < end:
                return True
    return False


def wall_time(
    stream_s: float, frame_wall_s: float, timezone: str, start_time: datetime | None, is_file: bool
) -> datetime:
    """The local wall time (aware, in `timezone`) a frame stands for (see the module docstring)."""
    zone = ZoneInfo(timezone)
    if is_file and start_time is not None:
        start = start_time if start_time.tzinfo is not None else start_time.replace(tzinfo=zone)
        return (start + timedelta(seconds=stream_s)).astimezone(zone)
    return datetime.fromtimestamp(frame_wall_s, zone)


@dataclass(frozen=True, slots=True)
class Gate:
    """Cooldown and re-arm state of one place.

    `last_fired_s`: when it last raised; `armed`: whether it may raise again (False from a raise
    until its condition has been clear for `rearm_s`); `clear_since_s`: when the condition last
    cleared while disarmed.
    """

    last_fired_s: float | None = None
    armed: bool = True
    clear_since_s: float | None = None


def may_fire(gate: Gate, now_s: float, cooldown_s: float, rearm_s: float) -> bool:
    """True when the place may raise at `now_s`: re-armed and out of cooldown."""
    armed = gate.armed or (gate.clear_since_s is not None and now_s - gate.clear_since_s >= rearm_s)
    cooled = gate.last_fired_s is None or now_s - gate.last_fired_s >= cooldown_s
    return armed and cooled


def fired(gate: Gate, now_s: float) -> Gate:
    """The place raised at `now_s`: start the cooldown and disarm it until its condition clears."""
    return Gate(last_fired_s=now_s, armed=False, clear_since_s=None)


def cleared(gate: Gate, now_s: float) -> Gate:
    """The place's condition is clear at `now_s` (start the re-arm timer if not already running)."""
    if gate.armed or gate.clear_since_s is not None:
        return gate
    return replace(gate, clear_since_s=now_s)


def recurred(gate: Gate, now_s: float, rearm_s: float) -> Gate:
    """The condition is present at `now_s`: if it had been clear for `rearm_s` the place is armed
    again; if it came back sooner, the re-arm timer starts again at the next clear."""
    if gate.armed:
        return gate
    if gate.clear_since_s is not None and now_s - gate.clear_since_s >= rearm_s:
        return replace(gate, armed=True, clear_since_s=None)
    return replace(gate, clear_since_s=None)
