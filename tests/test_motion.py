"""Motion gating as pure decisions: synthetic frames in, run/skip with reasons out."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from citywatch.config import DetectorConfig
from tests.support import VTEST
from tests.test_rules_pipeline import detections
from vision.motion import DetectionNeeds, GateDecision, MotionGate, same_objects, zone_mask

TOP_RIGHT = [[(0.6, 0.0), (1.0, 0.0), (1.0, 0.4), (0.6, 0.4)]]


def _scene(box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """A 320x240 textured background, with a white rectangle (x1, y1, x2, y2) when given."""
    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(rng.integers(60, 120, (240, 320, 3), dtype=np.uint8), (9, 9), 0)
    if box is not None:
        cv2.rectangle(image, box[:2], box[2:], (255, 255, 255), -1)
    return image


def test_first_frame_runs_then_still_frames_skip_until_recheck() -> None:
    gate = MotionGate(recheck_s=10.0, min_interval_s=0.0)
    still = _scene()
    decisions = [gate.decide(still, t * 0.5, TOP_RIGHT) for t in range(25)]  # 0 .. 12 s at 2 fps
    assert decisions[0] == GateDecision(True, "first", 0.0)
    assert [d.reason for d in decisions[1:20]] == ["still"] * 19
    assert decisions[20].run and decisions[20].reason == "recheck"  # t = 10 s
    assert not decisions[21].run
    assert (gate.runs, gate.skips) == (2, 23) and gate.reasons["recheck"] == 1


def test_motion_inside_a_zone_runs_motion_outside_skips() -> None:
    gate = MotionGate(recheck_s=60.0, min_interval_s=0.0)
    gate.decide(_scene(), 0.0, TOP_RIGHT)
    outside = gate.decide(_scene((10, 150, 60, 200)), 0.5, TOP_RIGHT)  # bottom left: no zone there
    assert not outside.run and outside.reason == "still"
    inside = gate.decide(_scene((220, 20, 260, 60)), 1.0, TOP_RIGHT)
    assert inside.run and inside.reason == "motion" and inside.changed > 0.05
    # Same frame again: nothing changed since that run.
    assert not gate.decide(_scene((220, 20, 260, 60)), 1.5, TOP_RIGHT).run


def test_no_zones_means_whole_image_and_slow_change_accumulates() -> None:
    gate = MotionGate(recheck_s=60.0, threshold=0.01, min_interval_s=0.0)
    gate.decide(_scene(), 0.0, [])
    assert gate.decide(_scene((10, 150, 60, 200)), 0.5, []).run
    # A creeping object: each step differs little from the previous frame, but the gate compares
    # with the last run, so the change adds up until it crosses the threshold.
    gate = MotionGate(recheck_s=60.0, threshold=0.02, min_interval_s=0.0)
    gate.decide(_scene(), 0.0, TOP_RIGHT)
    runs = [gate.decide(_scene((316 - 2 * i, 10, 319, 50)), 0.5 * (i + 1), TOP_RIGHT).run for i in range(10)]
    assert any(runs) and not runs[0]


def test_min_interval_limits_runs_under_continuous_motion() -> None:
    gate = MotionGate(recheck_s=60.0, min_interval_s=1.0)
    gate.decide(_scene(), 0.0, TOP_RIGHT)
    reasons = [
        gate.decide(_scene((200 + 5 * i, 20, 240 + 5 * i, 60)), 0.5 * (i + 1), TOP_RIGHT).reason for i in range(8)
    ]
    assert reasons == ["interval", "motion"] * 4


def test_zone_change_backwards_time_and_disabled() -> None:
    gate = MotionGate(recheck_s=60.0)
    gate.decide(_scene(), 0.0, TOP_RIGHT)
    assert not gate.decide(_scene(), 1.0, TOP_RIGHT).run
    assert gate.decide(_scene(), 2.0, [[(0, 0), (0.5, 0), (0.5, 0.5)]]).reason == "first"  # new zones
    assert gate.decide(_scene(), 1.0, [[(0, 0), (0.5, 0), (0.5, 0.5)]]).reason == "reset"  # time went back
    assert MotionGate.from_config(DetectorConfig()).enabled  # scheduling is the shipped default
    off = MotionGate.from_config(DetectorConfig(motion_gating=False))
    assert [off.decide(_scene(), t, TOP_RIGHT).reason for t in (0, 1, 2)] == ["disabled"] * 3
    assert off.runs == 3
    on = MotionGate.from_config(DetectorConfig(motion_gating=True, recheck_s=5))
    assert on.enabled and on.recheck_s == 5
    with pytest.raises(ValueError):
        MotionGate(recheck_s=0)


def test_automatic_interval_is_two_analysed_frames() -> None:
    gate = MotionGate(recheck_s=60.0)  # min_interval_s None: from the frame spacing
    gate.decide(_scene(), 0.0, TOP_RIGHT)
    reasons = [
        gate.decide(_scene((200 + 5 * i, 20, 240 + 5 * i, 60)), 1.0 * (i + 1), TOP_RIGHT).reason for i in range(6)
    ]
    assert gate.interval_s() == 2.0  # 1 analysed fps
    assert reasons == ["interval", "motion"] * 3


def test_a_due_trigger_runs_the_detector_on_every_frame_until_it_passes() -> None:
    gate = MotionGate(recheck_s=60.0)
    zones = tuple(tuple(map(tuple, z)) for z in TOP_RIGHT)
    still = _scene()
    gate.decide(still, 0.0, needs=DetectionNeeds(zones=zones))
    due = DetectionNeeds(zones=zones, due_s=2.0)
    reasons = [gate.decide(still, t, needs=due).reason for t in (0.5, 1.0, 1.5, 2.0, 2.5)]
    assert reasons == ["still", "still", "still", "due", "due"]  # a missed detection at 2.0 retries at 2.5
    assert gate.decide(still, 3.0, needs=DetectionNeeds(zones=zones)).reason == "still"  # raised: nothing due


def test_a_stay_the_last_run_did_not_see_is_looked_for_at_the_motion_cadence() -> None:
    gate = MotionGate(recheck_s=60.0, min_interval_s=1.0)
    zones = tuple(tuple(map(tuple, z)) for z in TOP_RIGHT)
    still = _scene()
    gate.decide(still, 0.0, needs=DetectionNeeds(zones=zones))
    seen = DetectionNeeds(zones=zones, boxes=((10, 10, 20, 20),), stale_since_s=0.0)
    assert gate.decide(still, 0.5, needs=seen).reason == "still"  # seen at the last run (t = 0)
    gate.decide(still, 10.0, needs=DetectionNeeds(zones=zones, due_s=10.0))  # a run at 10 s ...
    lost = DetectionNeeds(zones=zones, boxes=((10, 10, 20, 20),), stale_since_s=0.0)  # ... did not see it
    assert [gate.decide(still, t, needs=lost).reason for t in (10.5, 11.0, 11.5, 12.0)] == [
        "interval",
        "lost",
        "interval",
        "lost",
    ]


def test_a_change_inside_a_tracked_box_outside_the_zones_runs() -> None:
    gate = MotionGate(recheck_s=60.0, min_interval_s=0.0)
    zones = tuple(tuple(map(tuple, z)) for z in TOP_RIGHT)
    gate.decide(_scene(), 0.0, needs=DetectionNeeds(zones=zones))
    moved = _scene((20, 160, 70, 210))  # bottom left, outside the zone
    assert gate.decide(moved, 0.5, needs=DetectionNeeds(zones=zones)).reason == "still"
    tracked = DetectionNeeds(zones=zones, boxes=((15.0, 155.0, 75.0, 215.0),), stale_since_s=0.5)
    decision = gate.decide(_scene((20, 160, 60, 210)), 1.0, needs=tracked)
    assert decision.run and decision.reason == "motion"


def test_no_label_needed_skips_as_idle() -> None:
    gate = MotionGate(recheck_s=1.0)
    reasons = [gate.decide(_scene(), t, needs=DetectionNeeds(labels=False)).reason for t in (0.0, 5.0)]
    assert reasons == ["idle", "idle"] and gate.runs == 0


def test_zone_mask_covers_the_polygon() -> None:
    mask = zone_mask(TOP_RIGHT, 100, 50, margin=0)
    assert mask[5, 90] == 255 and mask[45, 10] == 0 and mask[30, 90] == 0
    assert zone_mask([], 10, 10).min() == 255


@pytest.mark.footage
def test_gating_cuts_detector_calls_on_vtest_at_least_3x(vtest_path: Path) -> None:
    kerb = [[(0.83, 0.05), (0.94, 0.05), (0.94, 0.25), (0.83, 0.25)]]  # configs/demo.yaml
    gate = MotionGate.from_config(DetectorConfig(motion_gating=True))
    capture = cv2.VideoCapture(str(VTEST))
    index = 0
    while capture.grab():
        if index % 5 == 0:
            _, image = capture.retrieve()
            gate.decide(image, index / 10.0, kerb)
        index += 1
    total = gate.runs + gate.skips
    assert total >= 150
    assert total / gate.runs >= 3.0, gate.stats()
    assert gate.reasons["recheck"] >= 3  # the parked van's still stretches are re-checked


def test_deferral_holds_moving_frames_while_calm_and_ends_each_stretch_with_a_run() -> None:
    gate = MotionGate(recheck_s=60.0, defer_frames=3)
    gate.decide(_scene(), 0.0, TOP_RIGHT)
    moving = [_scene((200 + 5 * i, 20, 240 + 5 * i, 60)) for i in range(10)]
    assert gate.decide(moving[0], 0.5, TOP_RIGHT).reason == "interval"  # not calm yet: no deferral
    gate.calm = True  # the caller saw the same watched objects at the last two runs
    reasons = [gate.decide(moving[i], 1.0 + 0.5 * i, TOP_RIGHT).reason for i in range(1, 9)]  # 1.5 .. 5.0 s
    assert reasons == ["defer", "defer", "defer", "motion", "defer", "defer", "defer", "motion"]
    assert gate.decide(moving[9], 5.5, TOP_RIGHT).reason == "defer"
    assert gate.decide(moving[8], 6.0, TOP_RIGHT).reason == "settle"  # the motion stopped: settle the held one
    assert gate.decide(moving[8], 6.5, TOP_RIGHT).reason == "still"
    assert gate.decide(moving[2], 7.0, TOP_RIGHT, can_defer=False).reason == "motion"  # no room: detect now


def test_same_objects_compares_the_watched_objects_in_the_zones_only() -> None:
    car = ("car", (200.0, 20.0, 260.0, 80.0))  # bottom centre (230, 80) of a 320x240 image: in TOP_RIGHT
    moved = ("car", (100.0, 100.0, 160.0, 160.0))  # anchored outside the zone
    person = ("person", (210.0, 30.0, 230.0, 90.0))
    zone = tuple(tuple(map(tuple, z)) for z in TOP_RIGHT)
    labels = frozenset({"car"})
    size = (320, 240)
    assert same_objects(detections(car), detections(car, person), labels, zone, size)  # persons not watched
    assert same_objects(detections(car), detections(car, moved), labels, zone, size)  # outside the zones
    assert not same_objects(detections(car), detections(), labels, zone, size)  # left
    shifted = ("car", (230.0, 20.0, 290.0, 80.0))  # IoU 1/3 with the first box
    assert not same_objects(detections(car), detections(shifted), labels, zone, size)
    assert same_objects(detections(), detections(moved), labels, zone, size)
    assert not same_objects(detections(), detections(moved), labels, (), size)  # no zones: anywhere counts
