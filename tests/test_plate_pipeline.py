"""Plates on parking events (issue #16), end to end without video: a parking rule with
`plates: true` inside a `CameraPipeline` reads the staying vehicle's rendered plate with the real
reader (RapidOCR's PP-OCRv4 models from a temporary model store) on the analysed frames, votes, and
puts the agreed plate on its event; through the real sink the event's plate makes a vehicle, and
the same vehicle parked again the next day is a repeat offender in the API. A rule without
`plates` reads nothing; a vehicle whose plate cannot be read gets `plate: null`, never a guess."""

from __future__ import annotations

import importlib.util
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import supervision as sv

from citywatch.commands.models import import_plate_models
from citywatch.config import CitywatchConfig
from citywatch.detectors import load_plate_reader, wants_plates
from citywatch.events import EventEnd, EventRecord
from citywatch.pipeline import CameraPipeline
from tests.ledger_support import make_ledger
from vision.detect import DetectorError
from vision.frames import Frame
from vision.plates.render import DEFAULT_FONT, draw_plate
from vision.plates.watch import PlateWatch

pytestmark = [
    pytest.mark.footage,  # runs the plate models
    pytest.mark.skipif(importlib.util.find_spec("rapidocr_onnxruntime") is None, reason="rapidocr not installed"),
    pytest.mark.skipif(not DEFAULT_FONT.is_file(), reason="fonts-wqy-microhei not installed"),
]
W, H = 960, 540
CAR = (300.0, 150.0, 660.0, 470.0)  # a vehicle 360 px wide; its plate is drawn at its lower middle
PLATE = "豫D12345"
DAY = 86400.0


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("plate-store")
    import_plate_models(folder)
    return folder


def config_for(store: Path, tmp_path: Path, *, plates: bool = True) -> CitywatchConfig:
    rule = {"id": "no-parking", "type": "illegal_parking", "zones": ["road"], "min_dwell_s": 20, "plates": plates}
    return CitywatchConfig.model_validate(
        {
            "detector": {"model_dirs": [str(store)]},
            "storage": {"database_url": f"sqlite:///{tmp_path / 'db.sqlite'}"},
            "cameras": [
                {
                    "id": "campus-road",
                    "url": "clip.mp4",
                    "analysis_fps": 1,
                    "zones": [{"id": "road", "polygon": [[0.1, 0.1], [0.9, 0.1], [0.9, 1.0], [0.1, 1.0]]}],
                    "rules": [rule],
                }
            ],
        }
    )


def scene(text: str | None, seed: int) -> np.ndarray:
    """A street-grey frame with a dark vehicle and, when `text` is given, its blue plate (176 px
    wide, slightly noisy, JPEG-compressed like a camera's picture)."""
    rng = np.random.default_rng(seed)
    image = np.full((H, W, 3), 118, np.uint8)
    x1, y1, x2, y2 = (int(v) for v in CAR)
    image[y1:y2, x1:x2] = (60, 58, 55)
    if text is not None:
        plate = draw_plate(text, "blue", px_per_mm=0.4)
        ph, pw = plate.shape[:2]
        left, top = (x1 + x2) // 2 - pw // 2, y2 - ph - 40
        image[top : top + ph, left : left + pw] = plate
    noisy = np.clip(image.astype(np.int16) + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8)
    ok, jpeg = cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return cv2.imdecode(jpeg, cv2.IMREAD_COLOR)


def car() -> sv.Detections:
    dets = sv.Detections(
        xyxy=np.array([CAR], dtype=np.float32), confidence=np.array([0.9], np.float32), class_id=np.array([2])
    )
    dets.data["label"] = np.array(["car"], dtype=object)
    return dets


def park(pipeline: CameraPipeline, text: str | None, *, seconds: int = 30, wall0: float) -> list[EventRecord]:
    """The vehicle stays `seconds` stream seconds in the zone (one analysed frame a second)."""
    frames = [scene(text, seed) for seed in range(3)]  # a little noise that changes between frames
    outputs = []
    for t in range(seconds):
        frame = Frame("campus-road", t, float(t), wall0 + t, frames[t % len(frames)])
        outputs += pipeline.process(frame, car())
    outputs += pipeline.finish()
    return [o for o in outputs if isinstance(o, EventRecord)]


def test_a_parked_vehicles_plate_is_read_agreed_and_becomes_a_repeat_offender(store: Path, tmp_path: Path) -> None:
    config = config_for(store, tmp_path)
    assert wants_plates(config)
    reader = load_plate_reader(config)
    watch = PlateWatch(reader, **config.plates.watch())
    pipeline = CameraPipeline(config.cameras[0], config=config, plates=watch)
    (event,) = park(pipeline, PLATE, wall0=time.time() - DAY)
    assert event.plate is not None and event.plate["text"] == PLATE, event.plate
    assert event.plate["color"] == "blue" and 0.5 < event.plate["confidence"] <= 1.0
    # every 2 stream seconds until the trigger at 20 s (the tracker confirms on the 2nd frame)
    assert 5 <= watch.reads <= config.plates.max_reads

    again = CameraPipeline(config.cameras[0], config=config, plates=PlateWatch(reader, **config.plates.watch()))
    (next_day,) = park(again, PLATE, wall0=time.time())
    ledger = make_ledger(tmp_path / "ledger", f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        for record in (event, next_day):
            ledger.sink.record(replace(record, camera_id="campus-road"))
        listed = ledger.client.get("/api/vehicles", headers=ledger.auth("viewer")).json()
        assert [(v["plate"], v["recent_count"], v["repeat"]) for v in listed["items"]] == [(PLATE, 2, True)]
    finally:
        ledger.sink.close()
        ledger.database.dispose()


def test_no_plate_no_reading_and_a_rule_without_plates_reads_nothing(store: Path, tmp_path: Path) -> None:
    config = config_for(store, tmp_path)
    reader = load_plate_reader(config)
    watch = PlateWatch(reader, **config.plates.watch())
    (plateless,) = park(CameraPipeline(config.cameras[0], config=config, plates=watch), None, wall0=time.time())
    assert plateless.plate is None and watch.reads >= 5  # it looked, found nothing, guessed nothing

    off = config_for(store, tmp_path, plates=False)
    assert not wants_plates(off)
    unused = PlateWatch(reader, **off.plates.watch())
    pipeline = CameraPipeline(off.cameras[0], config=off, plates=unused)
    (event,) = park(pipeline, PLATE, wall0=time.time())
    assert event.plate is None and unused.reads == 0


def test_a_plate_first_seen_after_the_trigger_reaches_the_event_at_the_stays_end(store: Path, tmp_path: Path) -> None:
    """The plate is hidden (a passer-by, glare) until after the trigger: the event is stored
    without one, reading goes on while the readings have not agreed, and the stay's end brings
    the agreed plate to the stored event and its vehicle."""
    config = config_for(store, tmp_path)
    watch = PlateWatch(load_plate_reader(config), **config.plates.watch())
    pipeline = CameraPipeline(config.cameras[0], config=config, plates=watch)
    hidden, shown = [scene(None, seed) for seed in range(3)], [scene(PLATE, seed) for seed in range(3)]
    wall0, outputs = time.time(), []
    for t in range(75):  # readings at 1, 3, ... 11 s, then 15, 23, 39 and 71 s
        image = (hidden if t < 22 else shown)[t % 3]
        outputs += pipeline.process(Frame("campus-road", t, float(t), wall0 + t, image), car())
    outputs += pipeline.finish()
    (event,) = [o for o in outputs if isinstance(o, EventRecord)]
    (end,) = [o for o in outputs if isinstance(o, EventEnd)]
    assert event.plate is None and end.plate is not None and end.plate["text"] == PLATE
    ledger = make_ledger(tmp_path / "ledger", f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        stored = ledger.sink.record(event)
        assert stored["plate"] is None
        ledger.sink.end(end)
        viewer = ledger.auth("viewer")
        row = ledger.client.get(f"/api/events/{stored['id']}", headers=viewer).json()
        assert row["plate"]["text"] == PLATE
        vehicle = ledger.client.get(f"/api/vehicles/{PLATE}", headers=viewer)
        assert vehicle.status_code == 200 and [e["id"] for e in vehicle.json()["events"]] == [stored["id"]]
        ledger.sink.end(replace(end, plate={"text": "豫D99999", "color": "blue", "confidence": 0.99}))
        again = ledger.client.get(f"/api/events/{stored['id']}", headers=viewer).json()
        assert again["plate"]["text"] == PLATE  # a plate the event carries is never replaced
    finally:
        ledger.sink.close()
        ledger.database.dispose()


def test_a_missing_plate_model_names_its_path(tmp_path: Path, store: Path) -> None:
    empty = tmp_path / "empty-store"
    empty.mkdir()
    with pytest.raises(DetectorError, match=str(empty)):
        load_plate_reader(config_for(empty, tmp_path))
    corrupt = tmp_path / "corrupt-store"
    corrupt.mkdir()
    for model in store.glob("*.onnx"):
        (corrupt / model.name).write_bytes(model.read_bytes()[:1000])
    with pytest.raises(DetectorError, match=str(corrupt)):
        load_plate_reader(config_for(corrupt, tmp_path))
