"""What a camera's active rules need from the detector (`CameraPipeline.detection_needs`), without video."""

from __future__ import annotations

import pytest

from citywatch.pipeline import CameraPipeline
from tests.test_rules_pipeline import BIKE, camera, detections, frame
from vision.motion import DetectionNeeds
from vision.rules.base import DwellParams, DwellState, Observation, step_dwell
from vision.rules.parking import DwellRule

PARKING = {
    "id": "bikes",
    "type": "non_motor_parking",
    "zones": ["pavement"],
    "labels": ["bicycle"],
    "min_dwell_s": 10,
}


def test_a_stay_makes_its_trigger_due_and_its_box_watched_until_it_raises() -> None:
    pipeline = CameraPipeline(camera([PARKING]))
    needs = pipeline.detection_needs()
    assert needs == DetectionNeeds(zones=(((0.2, 0.6), (0.6, 0.6), (0.6, 1.0), (0.2, 1.0)),), labels=True)
    for t in range(4):
        pipeline.process(frame(float(t)), detections(("bicycle", BIKE)))
    needs = pipeline.detection_needs()
    first_seen = pipeline.rules[0].live_stays()[0].first_seen_s
    assert needs.due_s == pytest.approx(first_seen + 10)
    assert needs.boxes == (BIKE,) and needs.stale_since_s == 3.0
    for t in range(4, 13):
        pipeline.process(frame(float(t)), detections(("bicycle", BIKE)))
    needs = pipeline.detection_needs()
    assert pipeline.rules[0].live_stays()[0].triggered_s is not None
    assert needs.due_s is None and needs.boxes == (BIKE,)  # raised: only watched now


def test_a_rule_outside_its_schedule_needs_nothing() -> None:
    night = {**PARKING, "schedule": {"windows": ["22:00-06:00"]}}
    pipeline = CameraPipeline(camera([night], start_time="2026-06-01T10:00:00"))
    pipeline.process(frame(0.0), detections(("bicycle", BIKE)))
    needs = pipeline.detection_needs()
    assert not needs.labels and needs.zones == ()


def test_next_due_waits_for_the_zone_cooldown() -> None:
    rule = DwellRule.__new__(DwellRule)
    rule.params = DwellParams(min_dwell_s=5.0, cooldown_s=30.0)
    state = DwellState()
    first = Observation(1, "car", (0, 0, 10, 10), 0.9, "kerb")
    for t in range(7):  # the first car raises at 5 s
        state, _ = step_dwell(state, [first], float(t), rule.params)
    second = Observation(2, "car", (50, 50, 60, 60), 0.9, "kerb")
    state, _ = step_dwell(state, [first, second], 7.0, rule.params)
    rule.state = state
    # the second car's dwell is reached at 12 s, but its zone may raise again only at 5 + 30 s
    assert rule.next_due_s() == pytest.approx(35.0)
