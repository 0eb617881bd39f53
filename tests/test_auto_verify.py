"""Automatic verification (核查): the pipeline reports zones that stayed clear; the ledger verifies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import supervision as sv
from sqlalchemy import select

from citywatch.config import CitywatchConfig
from citywatch.detectors import load_detector
from citywatch.domain.cameras import register_cameras
from citywatch.domain.db import open_database
from citywatch.domain.tables import Case, CaseAction
from citywatch.pipeline import CameraPipeline
from citywatch.runtime import run_replay
from citywatch.sink import EventSink
from tests.support import demo_config_dict
from vision.frames import Frame

VAN = [651.0, 42.0, 725.0, 99.0]


def van_detections(present: bool) -> sv.Detections:
    if not present:
        return sv.Detections.empty()
    detections = sv.Detections(
        xyxy=np.array([VAN], dtype=np.float32), confidence=np.array([0.8], dtype=np.float32), class_id=np.array([7])
    )
    detections.data["label"] = np.array(["truck"], dtype=object)
    return detections


def test_zone_reported_clear_only_after_the_window(tmp_path: Path) -> None:
    config = CitywatchConfig.model_validate(demo_config_dict(tmp_path))
    pipeline = CameraPipeline(config.cameras[0], config=config)
    image = np.zeros((576, 768, 3), dtype=np.uint8)
    reports: dict[float, list[tuple[str, str]]] = {}
    kinds: list[str] = []
    for step in range(0, 2 * 130):
        now = step / 2
        frame = Frame("campus-road", step, now, 1_800_000_000 + now, image)
        outputs = pipeline.process(frame, van_detections(now < 30))
        kinds += [type(o).__name__ for o in outputs]
        reports[now] = pipeline.clear_zones(now, window_s=60.0)
    assert kinds == ["EventRecord", "EventEnd"]  # parked 0-30 s: one event, ended after the grace period
    assert all(reports[t] == [] for t in reports if t < 100)  # occupied, then grace, then less than 60 s clear
    first_clear = min(t for t, zones in reports.items() if zones)
    assert 100 <= first_clear <= 101
    assert reports[129.5] == [("kerb", "illegal_parking")]


def test_replay_verifies_a_handled_case_once_its_zone_stays_clear(tmp_path: Path, model_dir: Path) -> None:
    grass = [[0.05, 0.6], [0.4, 0.6], [0.4, 0.95], [0.05, 0.95]]  # lawn: no vehicle ever stands there
    data = demo_config_dict(tmp_path)
    camera = data["cameras"][0]
    camera["zones"].append({"id": "lawn", "polygon": grass})
    camera["rules"].append({"id": "lawn-no-parking", "type": "illegal_parking", "zones": ["lawn"], "min_dwell_s": 20})
    config = CitywatchConfig.model_validate(data)
    database = open_database(config.storage.database_url)
    register_cameras(database, config.cameras)
    handled_at = datetime.now(UTC) - timedelta(hours=1)
    with database.session() as session:
        for zone in ("lawn", "kerb"):
            session.add(
                Case(
                    type="illegal_parking",
                    status="handled",
                    camera_id="campus-road",
                    zone_id=zone,
                    rule_id=f"{zone}-no-parking",
                    team="三中队",
                    handled_at=handled_at,
                    created_at=handled_at,
                )
            )
    run_replay(config, load_detector(config.detector), EventSink(database, config.storage.evidence_dir))
    with database.session() as session:
        status = {case.zone_id: case.status for case in session.scalars(select(Case))}
        actors = [a.actor for a in session.scalars(select(CaseAction).where(CaseAction.to_status == "verified"))]
    database.dispose()
    assert status["lawn"] == "verified" and actors == ["system:camera"]  # clear for 60 s of the 79.5 s clip
    assert status["kerb"] == "dispatched"  # the van is still there: verification failed, back to the team
