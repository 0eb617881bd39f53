"""Dedup on real footage: the skeleton's vtest replay, run twice into the same database, gives two
events (one per run) but one case — the second event attaches to the case the first one opened."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from citywatch.config import CitywatchConfig
from citywatch.detectors import load_detector
from citywatch.domain.cameras import register_cameras
from citywatch.domain.db import open_database
from citywatch.domain.tables import Case, CaseAction, Event
from citywatch.runtime import run_replay
from citywatch.sink import EventSink
from tests.support import demo_config_dict

pytestmark = pytest.mark.e2e


def test_vtest_replayed_twice_gives_one_case(tmp_path: Path, vtest_path: Path, model_dir: Path) -> None:
    config = CitywatchConfig.model_validate(demo_config_dict(tmp_path))
    detector = load_detector(config.detector)
    for _run in range(2):
        database = open_database(config.storage.database_url)
        register_cameras(database, config.cameras)
        sink = EventSink.from_config(config, database)
        run_replay(config, detector, sink)
        sink.close()
        database.dispose()
    database = open_database(config.storage.database_url)
    with database.session() as session:
        events = session.scalars(select(Event).order_by(Event.id)).all()
        cases = session.scalars(select(Case)).all()
        actions = session.scalars(select(CaseAction.action).order_by(CaseAction.id)).all()
    database.dispose()
    assert len(events) >= 2 and len({e.uid for e in events}) == len(events)
    assert len(cases) == 1
    (case,) = cases
    assert {e.case_id for e in events} == {case.id} and case.event_count == len(events)
    assert (case.camera_id, case.zone_id, case.type, case.status) == ("campus-road", "kerb", "illegal_parking", "new")
    assert case.district == "新华区" and case.street == "光明路街道"
    assert actions == ["open"] + ["event"] * (len(events) - 1)
