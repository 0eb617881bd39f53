"""The `parking_space_occupied` rule without video: `bay_occupants` (pure: one observation per
bay), the rule over synthetic detections in stream time (one event per bay, track switches and a
second cone do not restart it, a parked car is no occupation, it ends grace_s after the object
goes), the baseline on synthetic frames (an object appears; the empty-bay background never absorbs
it, however long it stays; a person walking through is masked), and the rule inside a
`CameraPipeline` (one event with its evidence, and its end)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import supervision as sv

from citywatch.config import CameraConfig, ZoneConfig, load_config
from citywatch.config.rules import ParkingSpaceOccupiedRuleConfig
from citywatch.events import EventEnd, EventRecord
from citywatch.pipeline import CameraPipeline
from vision.frames import Frame
from vision.rules import build_rules
from vision.rules.base import Observation
from vision.rules.occupancy import BASELINE_LABEL, OccupancyRule, bay_id, bay_occupants
from vision.track import TrackedObject

W, H = 320, 240
#: Two bays side by side, lower half of the image.
BAYS = [
    ZoneConfig(id="bay-1", polygon=[(0.1, 0.5), (0.45, 0.5), (0.45, 0.95), (0.1, 0.95)]),
    ZoneConfig(id="bay-2", polygon=[(0.55, 0.5), (0.9, 0.5), (0.9, 0.95), (0.55, 0.95)]),
]
CONE = (60.0, 150.0, 80.0, 190.0)  # in bay-1 (bottom centre 70, 190)


def rule(**fields: object) -> OccupancyRule:
    config = ParkingSpaceOccupiedRuleConfig.model_validate(
        {"id": "held", "type": "parking_space_occupied", "zones": ["bay-1", "bay-2"], **fields}
    )
    return OccupancyRule(config, BAYS)


def run(evaluator: OccupancyRule, frames: list[tuple[float, list[TrackedObject]]]) -> list[tuple[str, float, str]]:
    out = []
    for t, objects in frames:
        out += [(u.kind, u.at_s, u.stay.zone_id) for u in evaluator.evaluate(objects, t, W, H)]
    return out


def test_bay_occupants_is_one_observation_per_bay() -> None:
    found = [
        Observation(7, "traffic_cone", (10, 10, 20, 30), 0.6, "bay-1"),
        Observation(-1, BASELINE_LABEL, (30, 12, 40, 28), 0.9, "bay-1"),
        Observation(8, "chair", (100, 10, 120, 40), 0.8, "bay-2"),
    ]
    one, two = bay_occupants(found, ["bay-1", "bay-2", "bay-3"], frozenset())
    # the bay's fixed id, the union box, the detector's label over the baseline's, the best score
    assert (one.track_id, one.zone_id, one.label, one.xyxy, one.score) == (
        bay_id(0),
        "bay-1",
        "traffic_cone",
        (10, 10, 40, 30),
        0.9,
    )
    assert (two.track_id, two.label) == (bay_id(1), "chair")
    assert bay_occupants(found, ["bay-1", "bay-2"], frozenset({"bay-1"})) == [two]  # a car stands in bay-1
    assert bay_occupants([], ["bay-1"], frozenset()) == []


def test_a_cone_raises_once_at_min_dwell_and_ends_grace_after_it_goes() -> None:
    evaluator = rule(source="detector", min_dwell_s=120, grace_s=15)
    frames = []
    for i in range(0, 400):  # 1 fps; the cone from 10 s to 200 s, its track id switching at 100 s
        t = float(i)
        cone = [TrackedObject(3 if t < 100 else 9, "traffic_cone", CONE, 0.7)] if 10 <= t < 200 else []
        second = [TrackedObject(4, "parking_lock", (90.0, 160.0, 110.0, 185.0), 0.6)] if 50 <= t < 60 else []
        frames.append((t, cone + second))
    updates = run(evaluator, frames)
    assert updates == [("started", 10.0, "bay-1"), ("triggered", 130.0, "bay-1"), ("ended", 215.0, "bay-1")]


def test_a_vehicle_parked_in_the_bay_is_no_occupation() -> None:
    evaluator = rule(source="detector", min_dwell_s=30, grace_s=5)
    car = TrackedObject(1, "car", (40.0, 120.0, 140.0, 220.0), 0.9)
    chair_under_car = TrackedObject(2, "chair", (60.0, 170.0, 80.0, 200.0), 0.5)  # a chair beside it
    assert run(evaluator, [(float(t), [car, chair_under_car]) for t in range(100)]) == []
    assert "car" in evaluator.needs and "traffic_cone" in evaluator.needs


def test_baseline_sees_an_object_and_never_absorbs_it() -> None:
    """background_s 20 would absorb an object in a minute; the bay's background is frozen under it."""
    rng = np.random.default_rng(1)
    scene = rng.integers(95, 105, (H, W, 3), dtype=np.uint8)
    evaluator = rule(source="baseline", min_dwell_s=60, grace_s=5, warmup_s=4, background_s=20)
    with_box = scene.copy()
    with_box[150:190, 60:85] = (30, 120, 240)  # an orange box in bay-1
    updates = []
    for i in range(0, 600):  # 2 fps, 300 s; the box from 10 s to 250 s
        t = i / 2
        image = with_box.copy() if 10 <= t < 250 else scene.copy()
        objects = []
        if 100 <= t < 110:  # a person walks through bay-2, detected (masked)
            x = 150 + (t - 100) * 10
            image[100:230, int(x) : int(x) + 30] = 20
            objects = [TrackedObject(5, "person", (x, 100.0, x + 30, 230.0), 0.9)]
        updates += [(u.kind, u.at_s, u.stay.zone_id, u.stay.label) for u in evaluator.evaluate(objects, t, W, H, image)]
    [(k1, started, z1, label), (k2, triggered, _, _), (k3, ended, _, _)] = updates
    assert (k1, k2, k3, z1, label) == ("started", "triggered", "ended", "bay-1", BASELINE_LABEL)
    assert 10.0 <= started <= 13.0  # once it stands still against the fast background
    assert triggered == started + 60
    assert 250.0 <= ended <= 250.0 + 5 + 1.0  # still seen at 249.5 s: never absorbed


def test_parking_space_occupied_in_a_config_builds_its_evaluator(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "detector: {model: yolox_nano.onnx}\n"
        "cameras:\n"
        "  - id: lot\n"
        "    url: lot.mp4\n"
        "    zones: [{id: bay-7, polygon: [[0.1, 0.1], [0.4, 0.1], [0.4, 0.4]]}]\n"
        "    rules: [{id: held, type: parking_space_occupied, zones: [bay-7], min_dwell_min: 10, source: both}]\n"
    )
    camera = load_config(path).cameras[0]
    [evaluator] = build_rules(camera.rules, camera.zones)
    assert isinstance(evaluator, OccupancyRule) and evaluator.params.min_dwell_s == 600
    assert evaluator.labels == {"traffic_cone", "parking_lock", "chair", "obstacle"}  # the `occupier` group


def test_unknown_occupier_label_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown label"):
        rule(labels=["flower_pot"])


def test_inside_a_camera_pipeline_a_held_bay_is_one_event_with_its_end() -> None:
    camera = CameraConfig.model_validate(
        {
            "id": "lot",
            "url": "lot.mp4",
            "analysis_fps": 1,
            "zones": [z.model_dump() for z in BAYS],
            "rules": [{"id": "held", "type": "parking_space_occupied", "zones": ["bay-1", "bay-2"],
                       "source": "detector", "min_dwell_s": 30, "grace_s": 5}],
        }
    )  # fmt: skip
    pipeline = CameraPipeline(camera)
    outputs = []
    for t in range(90):  # a chair (COCO `chair`) in bay-2 from 10 s to 60 s
        present = 10 <= t < 60
        dets = sv.Detections(
            xyxy=np.array([[200.0, 150.0, 230.0, 200.0]] * present, dtype=np.float32).reshape(-1, 4),
            confidence=np.full(int(present), 0.8, dtype=np.float32),
            class_id=np.zeros(int(present), dtype=int),
            data={"label": np.array(["chair"] * present, dtype=object)},
        )
        image = np.full((H, W, 3), 90, np.uint8)
        outputs += pipeline.process(Frame("lot", t, float(t), 1_780_000_000.0 + t, image), dets)
    outputs += pipeline.finish()
    [record] = [o for o in outputs if isinstance(o, EventRecord)]
    assert (record.type, record.zone_id, record.label) == ("parking_space_occupied", "bay-2", "chair")
    assert record.first_seen_s <= 12 and record.triggered_s == pytest.approx(record.first_seen_s + 30)
    assert {"entry", "middle", "trigger"} <= set(record.images)
    [end] = [o for o in outputs if isinstance(o, EventEnd)]
    assert end.uid == record.uid and 59 <= end.ended_s <= 66
