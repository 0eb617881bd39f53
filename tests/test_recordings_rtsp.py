"""Continuous recording of a live RTSP camera (the GStreamer test server) for three minutes of
stream: contiguous 10 s segments (no gap over one GOP), each the camera's own H.264, readable by
ffprobe, and indexed in the database as they close (contiguous in wall time too)."""

from __future__ import annotations

import itertools
import json
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from citywatch.config import CitywatchConfig
from citywatch.detectors import load_detector
from citywatch.domain.cameras import register_cameras
from citywatch.domain.db import open_database
from citywatch.domain.tables import Recording
from citywatch.runtime import Runtime
from citywatch.sink import EventSink
from tests.support import demo_config_dict

pytestmark = [pytest.mark.rtsp, pytest.mark.e2e, pytest.mark.timeout(330)]

RECORD_S, SEGMENT_S, GOP_S = 180.0, 10.0, 1.0


def test_a_live_camera_records_contiguous_segments(tmp_path: Path, campus_rtsp: str, model_dir: Path) -> None:
    record = {"clips": False, "continuous": True, "segment_s": SEGMENT_S}
    config = CitywatchConfig.model_validate(demo_config_dict(tmp_path, url=campus_rtsp, record=record))
    database = open_database(config.storage.database_url)
    register_cameras(database, config.cameras)
    sink = EventSink.from_config(config, database)
    runtime = Runtime(config, load_detector(config.detector), sink)
    recorder = runtime.workers["campus-road"].recorder
    assert recorder is not None
    runtime.start()
    try:
        deadline = time.monotonic() + RECORD_S + 30
        while recorder.written < RECORD_S / SEGMENT_S and time.monotonic() < deadline:
            time.sleep(1.0)
    finally:
        runtime.stop()
        sink.close()
    with database.read_session() as session:
        rows = session.scalars(select(Recording).order_by(Recording.start_at)).all()
    database.dispose()
    segments = recorder.segments
    assert [row.path for row in rows] == [segment.name for segment in segments]  # every one indexed, in order
    for before_row, after_row in itertools.pairwise(rows):
        assert 0 <= (after_row.start_at - before_row.end_at).total_seconds() <= GOP_S + 0.05
    assert len(segments) >= RECORD_S / SEGMENT_S
    assert recorder.dropped_packets == 0 and recorder.errors == 0
    for before, after in itertools.pairwise(segments):
        assert 0 <= after.start_s - before.end_s <= GOP_S  # contiguous: no gap over one GOP
        assert before.end_s - before.start_s == pytest.approx(SEGMENT_S, abs=GOP_S + 0.05)
    root = config.storage.recordings_root
    assert not list(root.rglob("*.part"))
    for segment in segments:
        info = json.loads(
            subprocess.run(
                ["ffprobe", "-v", "error", "-count_packets", "-show_streams", "-of", "json", str(root / segment.name)],
                check=True,
                capture_output=True,
                text=True,
                timeout=60,
            ).stdout
        )
        (stream,) = info["streams"]
        assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 768, 576)
        assert int(stream["nb_read_packets"]) == segment.packets
