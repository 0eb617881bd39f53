"""A full evidence disk: the camera keeps analysing, events wait in memory with their JPEG bytes
(bounded), `/healthz` says why it is degraded, and once space returns every event is stored with
its evidence; the spool never dies with the disk, nor the retry thread with the pool.

The disk is a real 4 MB tmpfs where this machine lets the test mount one, else (and also) the
evidence writer's fault hook, `$CITYWATCH_FAULT_EVIDENCE_ENOSPC` (see `vision/evidence.py`).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from api.app import attach_pipeline, create_app
from citywatch.config import CitywatchConfig
from citywatch.domain.cameras import register_cameras
from citywatch.domain.db import POOL_OVERFLOW, POOL_SIZE, open_database
from citywatch.events import EventEnd
from citywatch.runtime import Runtime
from citywatch.sink import EventSink
from citywatch.spool import Spool, SpoolFull
from citywatch.startup import close_sink, open_pipeline
from tests.ledger_support import parking_record
from tests.support import ThreadServer, demo_config_dict
from vision.evidence import FAULT_ENOSPC_ENV

ROAD_ZONE = [[0.40, 0.30], [0.85, 0.30], [0.85, 0.45], [0.40, 0.45]]  # where people cross in vtest.avi
FPS, SPEED = 2.0, 3.0  # analysed frames per stream second; replay speed (so 6 analysed frames a wall second)


class Disk:
    """A place for evidence that can be made full and given its space back."""

    def __init__(self, root: Path, fill: Callable[[], None], free: Callable[[], None], kind: str):
        self.root, self.fill, self.free, self.kind = root, fill, free, kind


def _mount_tmpfs(where: Path, size: str = "4m") -> bool:
    where.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    return result.returncode == 0


def _fill(root: Path) -> None:
    """Take every free byte of the file system under `root`."""
    with (root / "filler").open("ab", buffering=0) as filler:
        chunk = b"\0" * 65536
        with contextlib.suppress(OSError):
            while True:
                filler.write(chunk)
        with contextlib.suppress(OSError):
            while True:  # the last few bytes
                filler.write(b"\0")


@pytest.fixture(params=["tmpfs", "hook"])
def disk(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Disk]:
    root = tmp_path / "disk"
    if request.param == "tmpfs":
        if not _mount_tmpfs(root):
            pytest.skip("mounting a tmpfs is not permitted here (the fault-hook variant runs instead)")
        try:
            yield Disk(root, lambda: _fill(root), lambda: (root / "filler").unlink(), "tmpfs")
        finally:
            subprocess.run(["umount", "-l", str(root)], check=False)
        return
    root.mkdir()
    flag = tmp_path / "disk-full.flag"
    monkeypatch.setenv(FAULT_ENOSPC_ENV, str(flag))
    yield Disk(root, flag.touch, flag.unlink, "hook")


def _config(tmp_path: Path, disk: Disk) -> CitywatchConfig:
    data = demo_config_dict(tmp_path, analysis_fps=FPS, replay={"speed": SPEED})
    camera = data["cameras"][0]
    camera["zones"].append({"id": "road", "polygon": ROAD_ZONE})
    camera["rules"].append(
        {"id": "crossing", "zones": ["road"], "labels": ["person"], "min_dwell_s": 3, "grace_s": 1}
    )  # people stopping on the road: a dozen events in the clip, to be held while the disk is full
    data["storage"]["evidence_dir"] = str(disk.root / "evidence")
    data["storage"]["spool_path"] = str(disk.root / "spool.db")  # the spool on the same (full) disk
    data["storage"]["recordings_dir"] = str(tmp_path / "recordings")  # event clips on a volume of their own
    return CitywatchConfig.model_validate(data)


def _wait(check: Callable[[], object], timeout_s: float, what: str) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_full_evidence_disk_keeps_the_camera_going_and_loses_no_event(
    tmp_path: Path, disk: Disk, vtest_path: Path, model_dir: Path
) -> None:
    config = _config(tmp_path, disk)
    detector, database, sink = open_pipeline(config)
    sink.retry_s = 0.2
    runtime = Runtime(config, detector, sink)
    app = create_app(config, database, publisher=sink.publisher)
    attach_pipeline(app, runtime=runtime, sink=sink)
    health = runtime.health()["campus-road"]
    try:
        with ThreadServer(app) as server:
            assert httpx.get(f"{server.base}/healthz").status_code == 200
            disk.fill()
            runtime.start()

            def degraded() -> dict | None:
                answer = httpx.get(f"{server.base}/healthz", timeout=5)
                body = answer.json()
                return body if answer.status_code == 503 and sink.held >= 1 else None

            body = _wait(degraded, 60, "/healthz to say the evidence disk is full")
            assert isinstance(body, dict) and body["status"] == "degraded"
            (problem,) = body["problems"]
            assert problem.startswith(f"evidence disk full ({disk.root / 'evidence'}): ")
            assert "held in memory, retrying" in problem

            frames0, t0 = health.frames_analysed, time.monotonic()
            time.sleep(6)  # the disk stays full: analysis goes on at its rate
            rate = (health.frames_analysed - frames0) / (time.monotonic() - t0)
            held_at_worst = sink.held
            assert health.state == "online" and runtime.errors == []
            assert rate >= 0.75 * FPS * SPEED, f"analysed {rate:.2f} frames/s with the disk full"
            print(
                f"\n[{disk.kind}] analysed {rate:.2f} frames/s (nominal {FPS * SPEED:g}) with the disk full; "
                f"{held_at_worst} event(s) held"
            )

            disk.free()
            assert runtime.wait(timeout=120), "the replay did not end"
            assert sink.flush(timeout=60), f"{sink.held} held, {sink.spooled} spooled"
            _wait(lambda: httpx.get(f"{server.base}/healthz").status_code == 200, 30, "/healthz to be ok again")
            assert held_at_worst >= 2
    finally:
        runtime.stop()
        close_sink(sink)
    emitted = sum(worker.events for worker in runtime.workers.values())
    with database.engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT uid, evidence, ended_s FROM events ORDER BY id")).all()
    database.dispose()
    assert health.state == "ended" and runtime.errors == []
    assert emitted >= 5 and len(rows) == emitted == len({row.uid for row in rows})  # every event, once
    for row in rows:
        evidence = row.evidence if isinstance(row.evidence, list) else json.loads(row.evidence)
        kinds = {item["kind"] for item in evidence}
        assert {"trigger", "entry"} <= kinds, (row.uid, kinds)
        for item in evidence:
            data = Path(item["path"]).read_bytes()
            assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"  # a whole JPEG
        assert row.ended_s is not None  # the end of an event that waited in memory waited behind it
    assert not list((disk.root / "evidence").rglob("*.tmp"))


def test_beyond_the_memory_bound_the_row_is_kept_without_its_images(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flag = tmp_path / "full.flag"
    monkeypatch.setenv(FAULT_ENOSPC_ENV, str(flag))
    config = CitywatchConfig.model_validate(demo_config_dict(tmp_path))
    database = open_database(config.storage.database_url)
    register_cameras(database, config.cameras)
    sink = EventSink(database, tmp_path / "evidence", cameras=config.cameras, retry_s=0.1, max_held=2)
    flag.touch()
    records = [parking_record(i=i) for i in range(4)]
    try:
        for record in records:
            sink.record(record)
            sink.end(EventEnd(record.uid, record.camera_id, record.triggered_s + 5, 25.0))
        assert sink.held == 2
        (problem,) = sink.problems()
        assert problem.startswith("evidence disk full") and "2 event(s) (0.0 MiB) held in memory" in problem
        assert "2 event(s) stored without their evidence (memory bound 64 MiB / 2 events reached)" in problem
        flag.unlink()
        assert sink.flush(timeout=20)
        _wait(lambda: not sink.problems(), 10, "the sink to be well again")
    finally:
        sink.close()
    with database.engine.connect() as connection:
        rows = {r.uid: r for r in connection.execute(sa.text("SELECT uid, evidence, ended_s FROM events")).all()}
    database.dispose()
    assert set(rows) == {r.uid for r in records}
    assert all(rows[r.uid].ended_s == r.triggered_s + 5 for r in records)
    evidence = {
        uid: row.evidence if isinstance(row.evidence, list) else json.loads(row.evidence) for uid, row in rows.items()
    }
    assert [len(evidence[r.uid]) for r in records] == [2, 2, 0, 0]  # the first two waited; the others could not
    assert all(Path(item["path"]).is_file() for items in evidence.values() for item in items)


def test_the_spool_keeps_its_order_in_memory_when_its_file_cannot_be_written(tmp_path: Path) -> None:
    (tmp_path / "not-a-dir").write_text("a file where the spool's folder should be")
    spool = Spool(tmp_path / "not-a-dir" / "spool.db", max_memory_entries=3)
    (problem,) = spool.problems()
    assert "cannot be opened" in problem
    seqs = [spool.append("record", {"uid": f"u{i}"}) for i in range(3)]
    assert len(spool) == 3 and "3 entries" in spool.problems()[0]
    with pytest.raises(SpoolFull):
        spool.append("record", {"uid": "u3"})
    assert [body["uid"] for _, _, body in spool.peek(5)] == ["u0", "u1", "u2"]
    spool.remove(seqs[0])
    assert [body["uid"] for _, _, body in spool.peek(5)] == ["u1", "u2"]


def test_the_spool_on_a_disk_that_fills_moves_to_memory_and_back_in_order(tmp_path: Path) -> None:
    root = tmp_path / "disk"
    if not _mount_tmpfs(root, "1m"):
        pytest.skip("mounting a tmpfs is not permitted here")
    try:
        spool = Spool(root / "spool.db")
        first = [spool.append("record", {"uid": f"a{i}"}) for i in range(3)]
        assert min(first) > 0  # in the file
        _fill(root)
        body = {"uid": "", "pad": "x" * 20000}  # bigger than the few bytes the filler may have left
        for i in range(3):
            spool.append("record", {**body, "uid": f"b{i}"})
        assert spool.in_memory == 3 and "unwritable" in spool.problems()[0]
        (root / "filler").unlink()
        spool.append("record", {"uid": "c0"})  # memory is not empty yet: this one waits behind it
        order = []
        while entries := spool.peek(1):
            seq, _, item = entries[0]
            order.append(item["uid"])
            spool.remove(seq)
            if item["uid"] == "c0":
                assert spool.append("record", {"uid": "d0"}) > 0  # memory empty: the file again
        assert order == ["a0", "a1", "a2", "b0", "b1", "b2", "c0", "d0"]
        assert spool.problems() == [] and len(spool) == 0
        spool.close()
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)


def test_the_retry_thread_outlives_an_exhausted_pool(tmp_path: Path) -> None:
    config = CitywatchConfig.model_validate(demo_config_dict(tmp_path))
    database = open_database(config.storage.database_url)
    register_cameras(database, config.cameras)
    sink = EventSink(database, tmp_path / "evidence", cameras=config.cameras, spool=tmp_path / "spool.db", retry_s=0.2)
    held = [database.engine.connect() for _ in range(POOL_SIZE + POOL_OVERFLOW)]  # every connection taken
    record = parking_record(i=0)
    try:
        answer = sink.record(record)  # the pool times out: the event is spooled, not lost nor raised
        assert answer["spooled"] is True and sink.spooled == 1
        time.sleep(1)
        assert sink._drainer is not None and sink._drainer.is_alive()
    finally:
        for connection in held:
            connection.close()
    try:
        assert sink.flush(timeout=30)
    finally:
        sink.close()
    with database.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT uid FROM events")).scalars().all() == [record.uid]
    database.dispose()
