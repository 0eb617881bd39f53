"""End to end on real footage: vtest.avi through the real YOLOX detector, tracker and dwell rule."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import select

from citywatch.cli import main
from citywatch.config import CitywatchConfig
from citywatch.detectors import load_detector
from citywatch.domain.cameras import register_cameras
from citywatch.domain.db import open_database
from citywatch.domain.tables import Event
from citywatch.runtime import run_replay
from citywatch.sink import EventSink
from tests.support import REPO, demo_config_dict, write_config
from vision.detect import Detector, DetectorError

pytestmark = pytest.mark.e2e

VAN_BOX = (651, 42, 725, 99)  # where the white van is parked in vtest.avi (pixels of 768x576)
PEDESTRIAN_ZONE = [[0.40, 0.30], [0.85, 0.30], [0.85, 0.45], [0.40, 0.45]]  # the road where people cross
STABLE_KEYS = ("type", "camera_id", "rule_id", "zone_id", "label", "track_id", "first_seen_s", "triggered_s", "box")


@pytest.fixture(scope="module")
def detector(model_dir: Path) -> Detector:
    config = CitywatchConfig.model_validate(demo_config_dict(Path("/tmp")))
    return load_detector(config.detector)


def replay(tmp_path: Path, detector: Detector, **camera_overrides: object) -> list[dict]:
    config = CitywatchConfig.model_validate(demo_config_dict(tmp_path, **camera_overrides))
    database = open_database(config.storage.database_url)
    register_cameras(database, config.cameras)
    events: list[dict] = []
    runtime = run_replay(config, detector, EventSink(database, config.storage.evidence_dir), on_event=events.append)
    database.dispose()
    assert runtime.errors == []
    assert all(h.state == "ended" for h in runtime.health().values())
    return events


def iou(a: list[float], b: tuple[int, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_cli_replay_prints_one_event_for_the_van(tmp_path: Path, vtest_path: Path, model_dir: Path) -> None:
    config = write_config(tmp_path, demo_config_dict(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "citywatch.cli", "replay", "--config", str(config), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, result.stdout
    event = json.loads(lines[0])
    assert event["type"] == "illegal_parking" and event["camera_id"] == "campus-road"
    assert event["rule_id"] == "kerb-no-parking" and event["zone_id"] == "kerb"
    assert event["label"] in {"car", "truck", "bus"}
    assert 20.0 <= event["triggered_s"] - event["first_seen_s"] < 20.0 + 0.5  # one analysis interval at 2 fps
    assert iou(event["box"], VAN_BOX) > 0.7

    snapshot = Path(event["snapshot"])
    assert snapshot.is_file()
    image = cv2.imread(str(snapshot))
    assert image.shape == (576, 768, 3)
    x1, y1, x2, y2 = (round(v) for v in event["box"])
    green = (image[:, :, 1] > 200) & (image[:, :, 0] < 80) & (image[:, :, 2] < 80)
    left_edge = green[y1 + 5 : y2 - 5, max(0, x1 - 2) : x1 + 3].any(axis=1).mean()
    bottom_edge = green[max(0, y2 - 2) : y2 + 3, x1 + 5 : x2 - 5].any(axis=0).mean()
    assert left_edge > 0.9 and bottom_edge > 0.9, "the van is not boxed in the snapshot"
    red = (image[:, :, 2] > 200) & (image[:, :, 1] < 60) & (image[:, :, 0] < 60)
    assert red[round(0.25 * 576) - 3 : round(0.25 * 576) + 3, 650:720].any(), "the zone is not drawn"
    assert "detector yolox-nano-coco" in result.stderr  # logs go to stderr, not stdout


def test_zone_where_only_pedestrians_walk_raises_nothing(tmp_path: Path, detector: Detector) -> None:
    zones = [{"id": "crossing", "polygon": PEDESTRIAN_ZONE}]
    rules = [{"id": "crossing-parking", "type": "illegal_parking", "zones": ["crossing"], "min_dwell_s": 5}]
    assert replay(tmp_path, detector, zones=zones, rules=rules) == []


def test_labels_outside_the_rule_never_raise(tmp_path: Path, detector: Detector) -> None:
    zones = [{"id": "kerb", "polygon": [[0.83, 0.05], [0.94, 0.05], [0.94, 0.25], [0.83, 0.25]]}]
    rules = [
        {
            "id": "bikes-only",
            "type": "illegal_parking",
            "zones": ["kerb"],
            "labels": ["bicycle", "bus"],
            "min_dwell_s": 5,
        }
    ]
    assert replay(tmp_path, detector, zones=zones, rules=rules) == []


def test_replay_is_deterministic(tmp_path: Path, detector: Detector) -> None:
    first = replay(tmp_path / "a", detector)
    second = replay(tmp_path / "b", detector)
    assert len(first) == 1
    assert [{k: e[k] for k in STABLE_KEYS} for e in first] == [{k: e[k] for k in STABLE_KEYS} for e in second]


def test_event_row_and_evidence_are_consistent(tmp_path: Path, detector: Detector) -> None:
    (event,) = replay(tmp_path, detector)
    kinds = {item["kind"] for item in event["evidence"]}
    assert kinds == {"entry", "middle", "trigger"}  # middle: at half the minimum dwell
    assert all(Path(item["path"]).is_file() for item in event["evidence"])
    database = open_database(f"sqlite:///{tmp_path / 'citywatch.db'}")
    with database.session() as session:
        row = session.scalars(select(Event)).one()
        assert row.uid == event["uid"]
        assert row.ended_s is not None and row.duration_s is not None  # the van stays until the clip ends
        assert row.duration_s >= 75.0
    database.dispose()


def test_no_network_is_attempted(tmp_path: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    config = CitywatchConfig.model_validate(demo_config_dict(tmp_path))
    detector = load_detector(config.detector)
    events = replay(tmp_path, detector)
    assert len(events) == 1
    # imported here, with every connect refused, to show that importing ultralytics stays offline
    from vision.detect.backends.ultralytics_backend import UltralyticsBackend

    assert UltralyticsBackend is not None and os.environ["YOLO_OFFLINE"] == "1"
    assert attempts == []


def test_missing_model_is_a_clear_cli_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = demo_config_dict(tmp_path)
    data["detector"] = {"model": "no_such_model.onnx", "model_dirs": [str(tmp_path / "store")]}
    assert main(["replay", "--config", str(write_config(tmp_path, data)), "--json"]) == 3
    err = capsys.readouterr().err
    assert "no_such_model.onnx" in err and str(tmp_path / "store" / "no_such_model.onnx") in err


def test_corrupt_model_names_the_path(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    (store / "yolox_nano.onnx").write_bytes(np.random.default_rng(0).bytes(1000))
    data = demo_config_dict(tmp_path)
    data["detector"] = {"model": "yolox_nano.onnx", "model_dirs": [str(store)]}
    with pytest.raises(DetectorError) as info:
        load_detector(CitywatchConfig.model_validate(data).detector)
    assert str(store / "yolox_nano.onnx") in str(info.value)


def test_motion_gating_keeps_events_and_cuts_detector_calls(tmp_path: Path, detector: Detector) -> None:
    def gated_replay(root: Path, gating: bool) -> tuple[list[dict], dict[str, int]]:
        data = demo_config_dict(root)
        data["detector"]["motion_gating"] = gating
        config = CitywatchConfig.model_validate(data)
        database = open_database(config.storage.database_url)
        register_cameras(database, config.cameras)
        events: list[dict] = []
        runtime = run_replay(config, detector, EventSink(database, config.storage.evidence_dir), on_event=events.append)
        database.dispose()
        return events, runtime.detector_stats()["campus-road"]

    plain, plain_stats = gated_replay(tmp_path / "off", gating=False)
    gated, gated_stats = gated_replay(tmp_path / "on", gating=True)
    identity = [k for k in STABLE_KEYS if k != "box"]  # the box is the tracker's smoothed estimate
    assert [{k: e[k] for k in identity} for e in gated] == [{k: e[k] for k in identity} for e in plain]
    assert len(plain) == 1 and iou(gated[0]["box"], tuple(plain[0]["box"])) > 0.85
    assert (plain_stats["run"], plain_stats["skipped"]) == (159, 0)
    assert plain_stats["reason_disabled"] == 159 and gated_stats["reason_due"] >= 1  # the trigger was confirmed
    assert gated_stats["run"] + gated_stats["skipped"] == 159
    assert plain_stats["run"] / gated_stats["run"] >= 3.0, gated_stats


def test_replay_at_ten_times_speed_gives_the_same_events(tmp_path: Path, detector: Detector) -> None:
    fast = replay(tmp_path / "fast", detector)
    config = CitywatchConfig.model_validate(demo_config_dict(tmp_path / "x10"))
    database = open_database(config.storage.database_url)
    register_cameras(database, config.cameras)
    events: list[dict] = []
    run_replay(config, detector, EventSink(database, config.storage.evidence_dir), on_event=events.append, speed=10.0)
    database.dispose()
    assert [{k: e[k] for k in STABLE_KEYS} for e in events] == [{k: e[k] for k in STABLE_KEYS} for e in fast]
