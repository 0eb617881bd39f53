"""The whole runtime on a live RTSP camera: real GStreamer server, PyAV reader, detector, rules, DB."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from citywatch.config import CitywatchConfig
from citywatch.detectors import load_detector
from citywatch.domain.cameras import register_cameras
from citywatch.domain.db import open_database
from citywatch.runtime import Runtime
from citywatch.sink import EventSink
from tests.support import demo_config_dict

pytestmark = [pytest.mark.rtsp, pytest.mark.e2e, pytest.mark.timeout(120)]


def test_live_camera_raises_the_parking_event(tmp_path: Path, campus_rtsp: str, model_dir: Path) -> None:
    data = demo_config_dict(tmp_path, url=campus_rtsp)
    data["cameras"][0]["rules"][0]["min_dwell_s"] = 5
    config = CitywatchConfig.model_validate(data)
    database = open_database(config.storage.database_url)
    register_cameras(database, config.cameras)
    sink = EventSink(database, config.storage.evidence_dir)
    events: list[dict] = []
    sink.listeners.append(events.append)
    runtime = Runtime(config, load_detector(config.detector), sink)
    runtime.start()
    try:
        deadline = time.monotonic() + 40
        while not events and time.monotonic() < deadline:
            time.sleep(0.5)
        health = runtime.health()["campus-road"]
        assert health.state == "online", health.last_error
    finally:
        runtime.stop()
        database.dispose()
    assert len(events) == 1, events
    (event,) = events
    assert event["zone_id"] == "kerb" and event["label"] in {"car", "truck"}
    assert 5.0 <= event["dwell_s"] < 5.5
    assert Path(event["snapshot"]).is_file()
    assert health.frames_analysed >= 10 and health.frames_decoded > health.frames_analysed
