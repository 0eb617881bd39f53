"""A looped vtest replay of 10 minutes of stream time with a 2-minute dwell: exactly one event per
parked vehicle, despite the loop seams (the footage jumps back every 79.5 s) and track id changes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select

from citywatch.config import CitywatchConfig
from citywatch.detectors import load_detector
from citywatch.domain.cameras import register_cameras
from citywatch.domain.db import open_database
from citywatch.domain.tables import Event
from citywatch.runtime import run_replay
from citywatch.sink import EventSink
from tests.support import demo_config_dict

BOTH = [[0.83, 0.05], [1.0, 0.05], [1.0, 0.25], [0.83, 0.25]]


@pytest.mark.e2e
def test_ten_minute_loop_one_event_per_vehicle(tmp_path: Path, model_dir: Path, vtest_path: Path) -> None:
    data = demo_config_dict(
        tmp_path,
        analysis_fps=1,
        replay={"loop": True, "max_stream_s": 600},
        zones=[{"id": "double-yellow", "polygon": BOTH}],
        rules=[{"id": "no-parking", "type": "illegal_parking", "zones": ["double-yellow"], "min_dwell_s": 120}],
    )
    config = CitywatchConfig.model_validate(data)
    database = open_database(config.storage.database_url)
    register_cameras(database, config.cameras)
    sink = EventSink(database, config.storage.evidence_dir)
    started = time.monotonic()
    runtime = run_replay(config, load_detector(config.detector), sink)
    elapsed = time.monotonic() - started
    worker = runtime.workers["campus-road"]
    assert not runtime.errors
    assert 595 <= worker.pipeline.last_stream_s <= 600.0  # looped, bounded by max_stream_s
    with database.session() as session:
        events = session.scalars(select(Event).order_by(Event.id)).all()
        assert len(events) == 2, [(e.label, e.track_id, e.first_seen_s, e.triggered_s) for e in events]
        assert sorted(e.label for e in events) == ["car", "truck"]
        for e in events:
            assert e.triggered_s - e.first_seen_s == pytest.approx(120, abs=1.01)
            assert e.ended_s is not None and e.ended_s >= 595  # the stay lasted the whole replay
            assert {item["kind"] for item in e.evidence} == {"entry", "middle", "trigger"}
    database.dispose()
    assert elapsed < 90
