"""Issue #16's end-to-end acceptance: a replayed vehicle with a rendered plate parks in a
no-parking zone on two days. The footage is the project's dog.jpg (its pickup truck, which YOLOX
finds) with a blue plate composited on the truck, made into a 40 s H.264 file; `citywatch replay`
runs it twice as a file camera whose `start_time` is two days ago and then yesterday, with the
real detector and the real plate reader. The first case is offered the first-violation waiver
(granted after the phone notice, then closed); the second, the same plate again, is a repeat that
gets no waiver; the campaign report for the range counts both."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from citywatch.commands.models import import_plate_models
from citywatch.config import CitywatchConfig, DetectorConfig
from citywatch.detectors import load_detector
from citywatch.domain.accounts import add_user
from citywatch.domain.db import open_database
from tests.support import DOG, MODEL_DIR, REPO, demo_config_dict, write_config
from vision.plates.render import DEFAULT_FONT, draw_plate

pytestmark = [
    pytest.mark.footage,
    pytest.mark.e2e,
    pytest.mark.timeout(300),
    pytest.mark.skipif(importlib.util.find_spec("rapidocr_onnxruntime") is None, reason="rapidocr not installed"),
    pytest.mark.skipif(not DEFAULT_FONT.is_file(), reason="fonts-wqy-microhei not installed"),
]
PLATE = "豫D12345"


def plated_footage(tmp: Path) -> tuple[Path, tuple[float, float, float, float]]:
    """dog.jpg with a 110 px blue plate on its truck (found by the detector) for 40 s, then 30 s of
    the street without the truck (it left), at 10 fps; and the truck's box."""
    image = cv2.imread(str(DOG))
    detector = load_detector(DetectorConfig(model="yolox_nano.onnx", model_dirs=[str(MODEL_DIR)]))
    found = detector.detect([image])[0]
    trucks = [
        tuple(map(float, box))
        for box, label in zip(found.xyxy, found.data["label"], strict=True)
        if label in ("car", "truck")
    ]
    assert trucks, "YOLOX finds dog.jpg's truck"
    x1, y1, x2, y2 = max(trucks, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
    plate = draw_plate(PLATE, "blue", px_per_mm=0.25)
    ph, pw = plate.shape[:2]
    left, top = int((x1 + x2) / 2) - pw // 2, int(y2) - ph - 4
    image[top : top + ph, left : left + pw] = plate
    still = tmp / "plated.png"
    cv2.imwrite(str(still), image)
    # then the truck drives off: the same street with it painted out, so its stay ends by leaving
    mask = np.zeros(image.shape[:2], np.uint8)
    mask[max(0, int(y1) - 6) : int(y2) + 6, max(0, int(x1) - 6) : int(x2) + 6] = 255
    empty = tmp / "empty.png"
    cv2.imwrite(str(empty), cv2.inpaint(image, mask, 5, cv2.INPAINT_TELEA))
    clip = tmp / "plated.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-loop", "1", "-framerate", "10", "-t", "40", "-i", str(still),
         "-loop", "1", "-framerate", "10", "-t", "30", "-i", str(empty),
         "-filter_complex", "[0:v][1:v]concat=n=2:v=1[v]", "-map", "[v]",
         "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "10", str(clip)],
        check=True, timeout=120,
    )  # fmt: skip
    return clip, (x1, y1, x2, y2)


def replay(tmp: Path, data: dict, start: datetime, name: str) -> list[dict]:
    data["cameras"][0]["start_time"] = start.isoformat()
    path = write_config(tmp, data, name=name)
    done = subprocess.run(
        [sys.executable, "-m", "citywatch", "replay", "--config", str(path), "--json"],
        cwd=REPO, capture_output=True, text=True, timeout=240, check=True,
    )  # fmt: skip
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("type") == "illegal_parking"]


def test_two_days_of_the_same_plate_a_waiver_then_a_repeat_and_the_report(tmp_path: Path) -> None:
    clip, (x1, y1, x2, y2) = plated_footage(tmp_path)
    store = tmp_path / "plate-store"
    store.mkdir()
    import_plate_models(store)
    height, width = cv2.imread(str(DOG)).shape[:2]
    left, top = max(0.0, x1 / width - 0.05), max(0.0, y1 / height - 0.05)
    right, bottom = min(1.0, x2 / width + 0.05), min(1.0, y2 / height + 0.05)
    zone = [[left, top], [right, top], [right, bottom], [left, bottom]]
    rule = {"id": "kerb-no-parking", "type": "illegal_parking", "zones": ["kerb"], "labels": ["car", "truck"],
            "min_dwell_s": 10, "plates": True}  # fmt: skip
    data = demo_config_dict(tmp_path, url=str(clip), zones=[{"id": "kerb", "polygon": zone}], rules=[rule])
    data["detector"]["model_dirs"].append(str(store))
    data["api"]["anonymous_read"] = False
    day1 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)

    (first,) = replay(tmp_path, data, day1, "day1.yaml")
    assert first["plate"] and first["plate"]["text"] == PLATE and first["plate"]["color"] == "blue", first
    config = CitywatchConfig.model_validate(data)
    database = open_database(config.storage.database_url)
    with database.session() as session:
        operator, viewer = add_user(session, "olga", "operator"), add_user(session, "vera", "viewer")
    client = TestClient(create_app(config, database))
    op, view = {"Authorization": f"Bearer {operator}"}, {"Authorization": f"Bearer {viewer}"}
    case_id = first["case_id"]
    offered = client.get(f"/api/cases/{case_id}/enforcement", headers=view).json()
    assert offered["plate"] == PLATE and offered["first_violation"] and offered["next_step"] == "phone"
    assert client.post(f"/api/cases/{case_id}/enforcement", json={"step": "phone"}, headers=op).status_code == 201
    after_notice = client.get(f"/api/cases/{case_id}/enforcement", headers=view).json()
    assert after_notice["left_at"] and after_notice["waiver_eligible"]  # it drove off: the stay ended by leaving
    assert client.post(f"/api/cases/{case_id}/enforcement", json={"step": "waiver"}, headers=op).status_code == 201
    walk = [
        {"to": "registered"},
        {"to": "dispatched", "team": "第一执法中队"},
        {"to": "handled", "note": "已驶离"},
        {"to": "verified", "note": "核查无车"},
        {"to": "closed", "note": "首违免罚，结案"},
    ]
    for body in walk:
        assert client.post(f"/api/cases/{case_id}/transitions", json=body, headers=op).status_code == 200

    (second,) = replay(tmp_path, data, day1 + timedelta(days=1), "day2.yaml")
    assert second["plate"]["text"] == PLATE and second["case_id"] != case_id
    repeat = client.get(f"/api/cases/{second['case_id']}/enforcement", headers=view).json()
    assert repeat["prior_violations"] == 1 and not repeat["first_violation"]
    assert (
        client.post(f"/api/cases/{second['case_id']}/enforcement", json={"step": "notice"}, headers=op).status_code
        == 201
    )
    refused = client.post(f"/api/cases/{second['case_id']}/enforcement", json={"step": "waiver"}, headers=op)
    assert refused.status_code == 409
    vehicle = client.get(f"/api/vehicles/{PLATE}", headers=view).json()
    assert vehicle["event_count"] == 2 and vehicle["repeat"]

    span = {"start": (day1 - timedelta(hours=1)).isoformat(), "end": datetime.now(UTC).isoformat()}
    report = client.get("/api/reports/campaign", params=span, headers=view).json()["counts"]
    assert report["plates_read"] == 1 and report["repeat_offenders"] == 1 and report["waivers"] == 1
    assert report["phone_notices"] == 1 and report["notices"] == 1
    client.close()
    database.dispose()
