"""Rules inside a CameraPipeline, without video: synthetic frames and detections in, events out.

Covers non-motor parking (min dwell in minutes, entry/middle/trigger evidence, duration at the
end), schedules against a replay's `start_time` (a rule idle outside its window ends its stays),
and the detector sources of litter and waterlogging."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import supervision as sv

from citywatch.config import CameraConfig
from citywatch.events import EventEnd, EventRecord
from citywatch.pipeline import CameraPipeline
from vision.frames import Frame

W, H = 320, 240
BIKE = (100.0, 150.0, 130.0, 200.0)  # bottom centre (115, 200) -> (0.36, 0.83)


def camera(rules: list[dict], **extra: object) -> CameraConfig:
    return CameraConfig.model_validate(
        {
            "id": "cam",
            "url": "clip.mp4",
            "analysis_fps": 1,
            "zones": [{"id": "pavement", "polygon": [[0.2, 0.6], [0.6, 0.6], [0.6, 1.0], [0.2, 1.0]]}],
            "rules": rules,
            **extra,
        }
    )


def frame(t: float) -> Frame:
    image = np.full((H, W, 3), 90, np.uint8)
    return Frame("cam", int(t), t, 1_780_000_000.0 + t, image)


def detections(*items: tuple[str, tuple[float, float, float, float]]) -> sv.Detections:
    if not items:
        empty = sv.Detections.empty()
        empty.data["label"] = np.array([], dtype=object)
        return empty
    dets = sv.Detections(
        xyxy=np.array([box for _, box in items], dtype=np.float32),
        confidence=np.full(len(items), 0.9, dtype=np.float32),
        class_id=np.zeros(len(items), dtype=int),
    )
    dets.data["label"] = np.array([label for label, _ in items], dtype=object)
    return dets


def run(pipeline: CameraPipeline, seconds: range, present: callable) -> list:  # type: ignore[valid-type]
    outputs = []
    for t in seconds:
        outputs += pipeline.process(frame(float(t)), detections(*present(t)))
    return outputs + pipeline.finish()


def test_non_motor_parking_with_evidence_and_duration() -> None:
    rule = {"id": "bikes", "type": "non_motor_parking", "zones": ["pavement"], "min_dwell_min": 1}
    pipeline = CameraPipeline(camera([rule]))
    assert pipeline.needed_labels == {"bicycle", "e-bike", "tricycle"}
    outputs = run(pipeline, range(0, 100), lambda t: [("bicycle", BIKE)] if 5 <= t < 90 else [])
    (event,) = [o for o in outputs if isinstance(o, EventRecord)]
    assert event.type == "non_motor_parking" and event.label == "bicycle"
    assert event.triggered_s - event.first_seen_s == 60.0
    assert set(event.images) == {"entry", "middle", "trigger"}
    assert all(img[:2] == b"\xff\xd8" for img in event.images.values())  # JPEGs
    (end,) = [o for o in outputs if isinstance(o, EventEnd)]
    assert end.uid == event.uid and end.duration_s == end.ended_s - event.first_seen_s >= 80
    assert end.reason == "source_ended"  # gone 10 s before the end: within the grace, so cut by it
    gone = run(CameraPipeline(camera([rule])), range(0, 200), lambda t: [("bicycle", BIKE)] if 5 <= t < 90 else [])
    (left,) = [o for o in gone if isinstance(o, EventEnd)]
    assert left.reason == "left" and left.ended_s < 100  # seen leaving, long before the footage ended


def test_schedule_idles_a_rule_outside_its_window() -> None:
    # The replay starts at 21:59:00 local; the rule runs 22:00-06:00 only (a window over midnight).
    rule = {
        "id": "night",
        "type": "illegal_parking",
        "zones": ["pavement"],
        "min_dwell_s": 30,
        "schedule": {"windows": ["22:00-06:00"]},
    }
    pipeline = CameraPipeline(camera([rule], start_time="2026-06-05T21:59:00"))
    outputs = run(pipeline, range(0, 120), lambda t: [("car", BIKE)])
    (event,) = [o for o in outputs if isinstance(o, EventRecord)]
    # Idle until 22:00 (stream 60 s); the tracker confirms a new track on its second frame.
    assert event.first_seen_s == 61.0 and event.triggered_s == 91.0
    assert datetime.fromtimestamp(event.occurred_wall_s, ZoneInfo("Asia/Shanghai")).strftime("%H:%M:%S") == "22:00:31"
    # Leaving the window ends the stay (and closes its event).
    pipeline = CameraPipeline(camera([rule], start_time="2026-06-06T05:58:00"))
    outputs = run(pipeline, range(0, 240), lambda t: [("car", BIKE)])
    record = next(o for o in outputs if isinstance(o, EventRecord))
    end = next(o for o in outputs if isinstance(o, EventEnd))
    assert record.triggered_s == 31.0 and end.ended_s == 119.0  # last seen before 06:00
    assert end.reason == "rule_idle"
    assert pipeline.active_rule_ids == []


def test_litter_and_water_from_a_detector() -> None:
    rules = [
        {"id": "trash", "type": "litter", "zones": ["pavement"], "source": "detector", "persist_s": 20},
        {
            "id": "flood",
            "type": "waterlogging",
            "zones": ["pavement"],
            "source": "detector",
            "threshold": 0.5,
            "persist_s": 10,
            "clear_s": 5,
        },
    ]
    pipeline = CameraPipeline(camera(rules))
    assert pipeline.needed_labels == {"litter", "water"}
    puddle = (0.2 * W, 0.6 * H, 0.6 * W, 1.0 * H)  # the whole zone

    def present(t: int) -> list:
        items = [("litter", BIKE)] if t >= 10 else []
        return items + ([("water", puddle)] if 20 <= t < 60 else [])

    outputs = run(pipeline, range(0, 90), present)
    records = {o.type: o for o in outputs if isinstance(o, EventRecord)}
    # Tracks are confirmed on their second frame: litter seen from 11 s, water from 21 s.
    assert records["litter"].first_seen_s == 11.0 and records["litter"].triggered_s == 31.0
    assert records["waterlogging"].triggered_s == 31.0 and records["waterlogging"].score == 1.0
    water_end = next(o for o in outputs if isinstance(o, EventEnd) and o.uid == records["waterlogging"].uid)
    assert water_end.ended_s == 65.0  # below the clear threshold from 60 s, for clear_s 5 s
    water = next(r for r in pipeline.rules if r.id == "flood")
    assert [f for t, _, f in water.history if t in (20.0, 21.0, 59.0, 60.0)] == [0.0, 1.0, 1.0, 0.0]
    status = pipeline.status()
    assert status["active_rules"] == ["trash", "flood"] and status["mode"] == "normal"
    assert status["levels"]["flood"]["pavement"][-1] == [89.0, 0.0]
