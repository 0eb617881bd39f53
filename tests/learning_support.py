"""A database of reviewed alerts on the project's footage, for the learning tests (dataset export,
offline training, promotion): two cameras on vtest.avi, alerts on two days, the van's box found
by the real YOLOX detector as the pipeline would, evidence written as the sink writes it, and
one operator annotation (a frame with its boxes).
Networking is refused (`no_network`)."""

from __future__ import annotations

import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from citywatch.config import CitywatchConfig, load_config
from citywatch.detectors import load_detector
from citywatch.domain.annotations import add_annotation, store_frame
from citywatch.domain.cameras import register_cameras
from citywatch.domain.db import Database, open_database
from citywatch.domain.tables import Event
from tests.support import MODEL_DIR, VTEST, demo_config_dict, kerb_rule, write_config
from vision.detect import Detector
from vision.evidence import annotate, encode_jpeg, write_durably

DAY1 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
DAY2 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
#: (camera, day, stream seconds, review, reason) of each alert.
ALERTS = (
    ("campus-road", DAY1, 21.0, "confirmed", None),
    ("campus-road", DAY1, 30.0, "confirmed", None),
    ("campus-road", DAY1, 40.0, "rejected", "误检：墙上的阴影不是车辆"),
    ("campus-road", DAY2, 25.0, "confirmed", None),
    ("campus-road", DAY2, 50.0, "confirmed", None),
    ("campus-road", DAY2, 55.0, "rejected", "送货车临时停靠，允许"),
    ("campus-gate", DAY1, 35.0, "confirmed", None),
    ("campus-gate", DAY1, 60.0, "confirmed", None),
    ("campus-gate", DAY2, 45.0, "confirmed", None),
    ("campus-road", DAY1, 65.0, "pending", None),
)


def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every outgoing connection fail, as on an isolated network."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def frame_at(seconds: float) -> np.ndarray:
    """The vtest.avi frame at `seconds` of stream time."""
    capture = cv2.VideoCapture(str(VTEST))
    try:
        capture.set(cv2.CAP_PROP_POS_MSEC, seconds * 1000.0)
        ok, image = capture.read()
    finally:
        capture.release()
    if not ok:
        pytest.fail(f"cannot read {VTEST} at {seconds} s")
    return image


@dataclass
class Reviewed:
    """The config, database and the stored alerts (ids, boxes in pixels, image sizes) of a test."""

    config_path: Path
    config: CitywatchConfig
    database: Database
    events: list[dict[str, Any]]


def reviewed_database(tmp_path: Path) -> Reviewed:
    """Two cameras on the campus footage, with the alerts of `ALERTS` stored and reviewed."""
    if not VTEST.is_file():
        pytest.fail(f"shared footage missing: {VTEST} (set CITYWATCH_SHARED_DIR)")
    data = demo_config_dict(tmp_path)
    gate = {**data["cameras"][0], "id": "campus-gate", "name": "Campus gate"}
    gate["rules"] = [{**kerb_rule(), "id": "gate-no-parking"}]
    data["cameras"].append(gate)
    data["detector"]["model_dirs"] = [str(tmp_path / "store"), str(MODEL_DIR)]
    config_path = write_config(tmp_path, data)
    config = load_config(config_path)
    database = open_database(config.storage.database_url)
    register_cameras(database, config.cameras)
    detector = load_detector(config.detector)
    evidence_dir = Path(config.storage.evidence_dir)
    stored = []
    with database.session() as session:
        for camera_id, day, stream_s, review, reason in ALERTS:
            image = frame_at(stream_s)
            height, width = image.shape[:2]
            box = [round(float(v), 1) for v in _vans(detector, image)[0]]
            uid = str(uuid.uuid4())
            at = day + timedelta(seconds=stream_s)
            path = evidence_dir / camera_id / at.strftime("%Y-%m-%d") / f"{uid}-trigger.jpg"
            write_durably(path, encode_jpeg(annotate(image, [], box, "")))
            row = Event(
                uid=uid, type="illegal_parking", camera_id=camera_id, rule_id="kerb-no-parking", zone_id="kerb",
                label="truck", first_seen_s=stream_s - 20, triggered_s=stream_s, score=0.8, box=box,
                snapshot_path=str(path), evidence=[{"kind": "trigger", "path": str(path)}], review_status=review,
                review_reason=reason, occurred_at=at,
            )  # fmt: skip
            session.add(row)
            session.flush()
            stored.append({"id": row.id, "camera": camera_id, "day": day.date().isoformat(), "review": review,
                           "reason": reason, "box": box, "size": (width, height)})  # fmt: skip
        image = frame_at(70.0)  # an operator's own boxes on a frame of campus-gate (标注)
        height, width = image.shape[:2]
        at = DAY2 + timedelta(seconds=70)
        relative = store_frame(evidence_dir, "campus-gate", at, encode_jpeg(image))
        van = [round(float(v), 1) for v in _vans(detector, image)[0]]
        normalised = [van[0] / width, van[1] / height, van[2] / width, van[3] / height]
        row = add_annotation(session, camera_id="campus-gate", stream_ts=70.0, taken_at=at, image_path=relative,
                             boxes=[{"label": "truck", "box": normalised}], created_by="li.operator")  # fmt: skip
        stored.append(
            {"annotation": row.id, "camera": "campus-gate", "day": DAY2.date().isoformat(), "box": normalised}
        )
    return Reviewed(config_path, config, database, stored)


def _vans(detector: Detector, image: np.ndarray) -> list[np.ndarray]:
    found = detector.detect([image])[0]
    vans = [box for box, label in zip(found.xyxy, found.data["label"], strict=True) if label == "truck"]
    if not vans:
        pytest.fail("the detector found no van")
    return vans
