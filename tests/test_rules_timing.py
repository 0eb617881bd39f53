"""Schedules, wall time, cooldown, re-arm, minimum dwell in minutes and the level alert, as pure
functions (no video)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from citywatch.config import (
    ConfigError,
    IllegalParkingRuleConfig,
    LitterRuleConfig,
    ScheduleConfig,
    WaterloggingRuleConfig,
    parse_config,
)
from vision.rules import DwellParams, DwellState, Observation, step_dwell
from vision.rules.schedule import Gate, cleared, fired, may_fire, recurred, schedule_active, wall_time
from vision.rules.waterlogging import LevelParams, LevelState, step_level

SH = ZoneInfo("Asia/Shanghai")
VAN = (651.0, 42.0, 725.0, 99.0)
CAR = (732.0, 51.0, 767.0, 94.0)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """2026-06-01 is a Monday; day 0 = Monday."""
    return datetime(2026, 6, 1 + day, hour, minute, tzinfo=SH)


def test_no_schedule_is_always_active() -> None:
    assert schedule_active(None, at(3, 3))
    assert schedule_active(ScheduleConfig(), at(6, 23, 59))


def test_same_day_window_and_days() -> None:
    schedule = ScheduleConfig(days=["mon", "tue", "wed", "thu", "fri"], windows=["07:30-09:00", "17:00-19:00"])
    assert schedule_active(schedule, at(0, 7, 30))  # start inclusive
    assert not schedule_active(schedule, at(0, 9, 0))  # end exclusive
    assert schedule_active(schedule, at(4, 18, 59))
    assert not schedule_active(schedule, at(5, 8, 0))  # Saturday
    assert not schedule_active(schedule, at(0, 12, 0))


def test_window_crossing_midnight_belongs_to_its_start_day() -> None:
    schedule = ScheduleConfig(days=["fri"], windows=["22:00-06:00"])
    assert schedule_active(schedule, at(4, 22, 0))  # Friday 22:00
    assert schedule_active(schedule, at(4, 23, 59))
    assert schedule_active(schedule, at(5, 0, 0))  # Saturday 00:00
    assert schedule_active(schedule, at(5, 5, 59))  # Saturday 05:59
    assert not schedule_active(schedule, at(5, 6, 0))  # Saturday 06:00: over
    assert not schedule_active(schedule, at(4, 3, 0))  # Friday 03:00 belongs to Thursday's window
    assert not schedule_active(schedule, at(5, 22, 30))  # Saturday night: not a start day
    assert schedule_active(ScheduleConfig(days=["sun"], windows=["23:00-01:00"]), at(7, 0, 30))  # Sun -> Mon


def test_window_validation() -> None:
    with pytest.raises(ValueError):
        ScheduleConfig(windows=["25:00-26:00"])
    with pytest.raises(ValueError):
        ScheduleConfig(windows=["08:00-08:00"])
    assert ScheduleConfig(windows=["18:00-24:00"]).windows == ["18:00-24:00"]
    assert schedule_active(ScheduleConfig(windows=["18:00-24:00"]), at(0, 23, 59))


def test_wall_time_of_a_replay_is_start_time_plus_stream_seconds() -> None:
    start = datetime(2026, 6, 5, 21, 59, 50)  # naive: in the config's time zone
    wall = wall_time(15.0, frame_wall_s=0.0, timezone="Asia/Shanghai", start_time=start, is_file=True)
    assert wall == datetime(2026, 6, 5, 22, 0, 5, tzinfo=SH)
    schedule = ScheduleConfig(days=["fri"], windows=["22:00-06:00"])
    assert not schedule_active(schedule, wall_time(5.0, 0.0, "Asia/Shanghai", start, True))
    assert schedule_active(schedule, wall)
    live = wall_time(15.0, frame_wall_s=1_780_000_000.0, timezone="Asia/Shanghai", start_time=start, is_file=False)
    assert live == datetime.fromtimestamp(1_780_000_000.0, SH)


def test_gate_cooldown_and_rearm() -> None:
    gate = Gate()
    assert may_fire(gate, 0.0, cooldown_s=60, rearm_s=30)
    gate = fired(gate, 10.0)
    assert not may_fire(gate, 200.0, 60, 30)  # never cleared: not re-armed
    gate = cleared(gate, 100.0)
    assert not may_fire(gate, 120.0, 60, 30)  # clear for 20 s < 30
    assert may_fire(gate, 130.0, 60, 30)
    assert cleared(gate, 125.0) == gate  # the re-arm timer runs from the first clear
    assert recurred(gate, 131.0, 30).armed  # present again after the re-arm time: armed
    gate = recurred(gate, 120.0, 30)  # came back before re-arming: timer restarts at the next clear
    assert not may_fire(gate, 130.0, 60, 30)
    cool = Gate(last_fired_s=100.0)
    assert not may_fire(cool, 159.0, 60, 0) and may_fire(cool, 160.0, 60, 0)


def obs(track_id: int, box=VAN, zone: str = "kerb") -> Observation:
    return Observation(track_id, "car", box, 0.8, zone)


def run_dwell(frames, params):
    state, updates = DwellState(), []
    for now, observations in frames:
        state, new = step_dwell(state, observations, now, params)
        updates.extend(new)
    return state, updates


def test_zone_cooldown_delays_a_second_vehicle() -> None:
    params = DwellParams(min_dwell_s=20.0, grace_s=5.0, cooldown_s=60.0)
    frames = [(float(t), [obs(1)] + ([obs(2, CAR)] if t >= 10 else [])) for t in range(0, 100)]
    _, updates = run_dwell(frames, params)
    triggers = [(u.stay.track_id, u.at_s) for u in updates if u.kind == "triggered"]
    assert triggers == [(1, 20.0), (2, 80.0)]  # the car is due at 30 s, waits out the cooldown


def test_no_cooldown_gives_one_event_per_vehicle() -> None:
    frames = [(float(t), [obs(1), obs(2, CAR)]) for t in range(0, 40)]
    _, updates = run_dwell(frames, DwellParams(min_dwell_s=20.0, grace_s=5.0))
    assert sorted((u.stay.track_id, u.at_s) for u in updates if u.kind == "triggered") == [(1, 20.0), (2, 20.0)]


def test_rearm_mutes_a_quick_return_to_the_same_place() -> None:
    params = DwellParams(min_dwell_s=20.0, grace_s=5.0, rearm_s=120.0)
    stay1 = [(float(t), [obs(1)]) for t in range(0, 30)]
    gone = [(float(t), []) for t in range(30, 40)]
    back = [(float(t), [obs(5)]) for t in range(40, 100)]  # back after 10 s: same place, muted
    _, updates = run_dwell(stay1 + gone + back, params)
    assert [u.kind for u in updates].count("triggered") == 1
    later = [(float(t), []) for t in range(100, 300)] + [(float(t), [obs(9)]) for t in range(300, 330)]
    _, updates = run_dwell(stay1 + gone + later, params)  # back after re-arm: a new event
    assert [u.at_s for u in updates if u.kind == "triggered"] == [20.0, 320.0]


def test_min_dwell_in_minutes() -> None:
    rule = IllegalParkingRuleConfig(id="r", zones=["z"], min_dwell_min=2)
    assert rule.min_dwell_s == 120.0
    assert IllegalParkingRuleConfig(id="r", zones=["z"]).min_dwell_s == 60.0  # default unchanged
    with pytest.raises(ValueError):
        IllegalParkingRuleConfig(id="r", zones=["z"], min_dwell_s=30, min_dwell_min=2)


def test_rule_union_by_type_and_untyped_rules_stay_parking() -> None:
    text = """
cameras:
  - id: cam
    url: x.mp4
    zones: [{id: z, polygon: [[0, 0], [1, 0], [1, 1]]}]
    rules:
      - {id: a, zones: [z], min_dwell_s: 20}
      - {id: b, type: non_motor_parking, zones: [z], min_dwell_min: 5}
      - {id: c, type: litter, zones: [z], persist_s: 30, source: both}
      - {id: d, type: waterlogging, zones: [z], threshold: 0.4, persist_s: 10}
"""
    rules = parse_config(text).cameras[0].rules
    assert [type(r) for r in rules][2:] == [LitterRuleConfig, WaterloggingRuleConfig]
    assert rules[0].type == "illegal_parking" and rules[1].labels == ["bicycle", "e-bike", "tricycle"]
    assert rules[1].min_dwell_s == 300.0
    with pytest.raises(ConfigError, match="threshold"):
        parse_config(text.replace("threshold: 0.4", "threshold: 1.5"))


LEVEL = LevelParams(threshold=0.3, clear_threshold=0.2, persist_s=10.0, clear_s=5.0)


def run_level(series, params=LEVEL):
    state, updates = LevelState(), []
    for now, fraction in series:
        state, new = step_level(state, fraction, now, params)
        updates.extend(new)
    return state, updates


def test_level_raises_after_persistence_and_clears_after_recession() -> None:
    series = [(float(t), 0.0) for t in range(0, 10)] + [(float(t), 0.6) for t in range(10, 40)]
    series += [(float(t), 0.25) for t in range(40, 45)]  # between clear and raise thresholds: still wet
    series += [(float(t), 0.05) for t in range(45, 60)]
    _, updates = run_level(series)
    assert [(u.kind, u.at_s) for u in updates] == [("started", 10.0), ("triggered", 20.0), ("ended", 50.0)]
    assert updates[-1].peak == 0.6 and updates[-1].since_s == 10.0


def test_level_short_splash_never_raises() -> None:
    series = [(float(t), 0.5 if 5 <= t < 12 else 0.0) for t in range(0, 30)]
    _, updates = run_level(series)
    assert [u.kind for u in updates] == ["started", "ended"]


def test_level_rearm_and_cooldown() -> None:
    params = LevelParams(threshold=0.3, clear_threshold=0.2, persist_s=2.0, clear_s=2.0, cooldown_s=0, rearm_s=20)
    wet, dry = 0.5, 0.0
    series = [(float(t), wet) for t in range(0, 10)] + [(float(t), dry) for t in range(10, 15)]
    series += [(float(t), wet) for t in range(15, 25)]  # back 3 s after clearing (< re-arm 20 s)
    series += [(float(t), dry) for t in range(25, 60)] + [(float(t), wet) for t in range(60, 70)]
    _, updates = run_level(series, params)
    assert [u.at_s for u in updates if u.kind == "triggered"] == [2.0, 62.0]
