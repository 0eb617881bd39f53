"""Retention and quota: the pure choice (`choose_deletions`: expired per camera and kind, then the
oldest unprotected until the quota holds, never a protected one), and one pass of the maintainer
over real files and rows (the clip an open case cites is kept, its row and file stay together)."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from citywatch.config import load_config
from citywatch.domain.cameras import register_cameras
from citywatch.domain.db import open_database
from citywatch.domain.tables import Case, Event
from citywatch.recordings.maintainer import Maintainer
from citywatch.recordings.retention import Recording, Retain, choose_deletions
from citywatch.sink import EventSink
from tests.ledger_support import parking_record
from tests.support import demo_config_dict, write_config

pytestmark = pytest.mark.timeout(60)
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def rec(key: str, hours_ago: float, kind: str = "segment", size: int = 100, protected: bool = False) -> Recording:
    return Recording(key, "cam", kind, NOW - timedelta(hours=hours_ago), size, protected)  # type: ignore[arg-type]


def keys(deletions: list) -> list[tuple[str, str]]:
    return [(d.recording.key, d.reason) for d in deletions]


def test_expired_per_kind_and_camera() -> None:
    recordings = [rec("seg-old", 80), rec("seg-new", 10), rec("clip-80h", 80, "clip"), rec("clip-old", 24 * 31, "clip")]
    chosen = choose_deletions(recordings, now=NOW, retain={"cam": Retain(30, 3)}, max_bytes=10**9)
    assert keys(chosen) == [("clip-old", "expired"), ("seg-old", "expired")]  # segments 3 days, clips 30
    longer = choose_deletions(recordings, now=NOW, retain={"cam": Retain(30, 5)}, max_bytes=10**9)
    assert keys(longer) == [("clip-old", "expired")]


def test_segments_with_activity_are_kept_for_motion_days() -> None:
    quiet = Recording("quiet", "cam", "segment", NOW - timedelta(days=4), 100)
    busy = Recording("busy", "cam", "segment", NOW - timedelta(days=4), 100, motion=True)
    chosen = choose_deletions([quiet, busy], now=NOW, retain={"cam": Retain(30, 3, motion_days=10)}, max_bytes=10**9)
    assert keys(chosen) == [("quiet", "expired")]
    unset = choose_deletions([quiet, busy], now=NOW, retain={"cam": Retain(30, 3)}, max_bytes=10**9)
    assert sorted(keys(unset)) == [("busy", "expired"), ("quiet", "expired")]


def test_quota_takes_the_oldest_unprotected_first_and_never_a_protected_one() -> None:
    recordings = [rec("a", 5, protected=True), rec("b", 4), rec("c", 3, "clip"), rec("d", 2), rec("e", 1)]
    chosen = choose_deletions(recordings, now=NOW, retain={}, max_bytes=250)
    assert keys(chosen) == [("b", "quota"), ("c", "quota"), ("d", "quota")]  # "a" is older but cited
    everything = choose_deletions(recordings, now=NOW, retain={}, max_bytes=0)
    assert "a" not in [d.recording.key for d in everything] and len(everything) == 4
    expired_but_cited = choose_deletions(
        [rec("old", 24 * 400, "clip", protected=True)], now=NOW, retain={}, max_bytes=0
    )
    assert expired_but_cited == []


def test_the_disk_floor_frees_space_oldest_first() -> None:
    recordings = [rec("a", 3), rec("b", 2), rec("c", 1)]
    chosen = choose_deletions(recordings, now=NOW, retain={}, max_bytes=10**9, free_bytes=50, floor_bytes=200)
    assert keys(chosen) == [("a", "disk"), ("b", "disk")]


def test_a_pass_over_real_files_keeps_what_an_open_case_cites(tmp_path: Path) -> None:
    data = demo_config_dict(tmp_path)
    data["storage"]["max_recordings_gb"] = 150e-9  # 150 bytes: only one 100-byte file fits
    config = load_config(write_config(tmp_path, data))
    database = open_database(config.storage.database_url)
    register_cameras(database, config.cameras)
    sink = EventSink(database, tmp_path / "evidence")
    root = config.storage.recordings_root
    cited, plain = parking_record(i=1), parking_record(i=2)
    for record in (cited, plain):
        sink.record(record)
        (root / sink.clip_name(record)).parent.mkdir(parents=True, exist_ok=True)
        (root / sink.clip_name(record)).write_bytes(b"x" * 100)
        sink.attach_clip(record.uid, sink.clip_name(record))
    old = time.time() - 3600
    os.utime(root / sink.clip_name(cited), (old - 60, old - 60))  # the cited clip is the oldest
    os.utime(root / sink.clip_name(plain), (old, old))
    segment = root / "campus-road" / "20261201" / "20261201T000000000Z-00001.mp4"
    segment.parent.mkdir(parents=True, exist_ok=True)
    segment.write_bytes(b"s" * 100)  # 36 h old: within its 3 days, the oldest of all; the quota takes it
    (root / "campus-road" / "20261201" / "20261201T000100000Z-00002.mp4.part").write_bytes(b"junk")
    with database.session() as session:
        event = session.query(Event).filter(Event.uid == cited.uid).one()
        if event.case_id is None:
            case = Case(type=event.type, camera_id=event.camera_id, status="registered")
            session.add(case)
            session.flush()
            event.case_id = case.id
        else:
            session.get(Case, event.case_id).status = "registered"
        session.query(Event).filter(Event.uid == plain.uid).update({"case_id": None})
    maintainer = Maintainer(config, database)
    maintainer.start()  # recovery: the unreadable .part is removed
    maintainer.stop()
    assert not list(root.rglob("*.part"))
    deleted = maintainer.run_once(now=datetime(2026, 12, 2, 12, tzinfo=UTC))
    assert sorted(d.recording.key for d in deleted) == sorted(
        [segment.relative_to(root).as_posix(), sink.clip_name(plain)]
    )
    assert (root / sink.clip_name(cited)).is_file()
    with database.session() as session:
        rows = {row.uid: row.clip for row in session.query(Event)}
    assert rows == {cited.uid: sink.clip_name(cited), plain.uid: None}  # no row points at a deleted file
    sink.close()
    database.dispose()
