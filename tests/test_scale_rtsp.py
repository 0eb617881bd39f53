"""Per-camera overhead of the runtime with many live cameras (real GStreamer RTSP server, real
detector): one thread per camera (its reader), a small shared analysis pool, and no FFmpeg
threads of its own (single-threaded decoder and scaler), however many frames were converted."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from citywatch.camera_worker import analysis_threads
from citywatch.config import CitywatchConfig
from citywatch.detectors import load_detector
from citywatch.domain.cameras import register_cameras
from citywatch.domain.db import open_database
from citywatch.runtime import Runtime
from citywatch.sink import EventSink
from tests.rtsp.fixtures import RtspServer
from tests.support import demo_config_dict

pytestmark = [pytest.mark.rtsp, pytest.mark.footage, pytest.mark.timeout(120)]

CAMERAS = 12
#: Threads the runtime may start besides one reader per camera and the analysis pool: the
#: detector's queue, the lateness monitor, onnxruntime's, the sink's; generous, and still far
#: below the 2-3 extra threads per camera a per-camera consumer and FFmpeg's scaler threads cost.
SHARED_THREADS = 8


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def test_threads_per_camera(tmp_path: Path, rtsp_server: RtspServer, model_dir: Path) -> None:
    data = demo_config_dict(tmp_path)
    base = data["cameras"][0]
    data["cameras"] = [
        {**base, "id": f"cam{i}", "url": rtsp_server.url(f"steady{i % 4}"), "analysis_fps": 2} for i in range(CAMERAS)
    ]
    config = CitywatchConfig.model_validate(data)
    database = open_database(config.storage.database_url)
    register_cameras(database, config.cameras)
    sink = EventSink(database, config.storage.evidence_dir)
    detector = load_detector(config.detector)
    before = _threads()
    runtime = Runtime(config, detector, sink)
    runtime.start()
    try:
        deadline = time.monotonic() + 60
        health = runtime.health()
        while time.monotonic() < deadline and not all(h.frames_analysed >= 4 for h in health.values()):
            time.sleep(0.5)
        not_yet = {c: (h.state, h.frames_analysed, h.last_error) for c, h in health.items() if h.frames_analysed < 4}
        assert not not_yet, not_yet  # every camera converted and analysed frames (scalers in use)
        extra = _threads() - before
        print(f"{CAMERAS} cameras: {extra} threads more")
        assert extra <= CAMERAS + analysis_threads(CAMERAS) + SHARED_THREADS
        assert {h.state for h in health.values()} == {"online"}
    finally:
        runtime.stop()
        database.dispose()
