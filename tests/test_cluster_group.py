"""A camera group host in this process, without Ray (real footage, real detector): it reports its
cameras' health and outbox, re-sends a checkpoint's unacknowledged messages after a restart, and
a camera busy beyond the checkpoint's wait (e.g. blocked on a full outbox) never blocks a pull."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from citywatch.cluster.group_host import CameraCheckpoint, GroupHost
from citywatch.cluster.outbox import ClipReady
from citywatch.cluster.supervisor import Supervisor
from citywatch.config import CitywatchConfig
from citywatch.detectors import load_detector
from citywatch.domain.cameras import register_cameras
from citywatch.domain.db import open_database
from citywatch.domain.tables import Event
from citywatch.events import EventEnd, EventRecord
from citywatch.pipeline import CameraPipeline
from citywatch.sink import EventSink
from tests.support import demo_config_dict
from tests.test_clips import probe


def _host(tmp_path: Path) -> tuple[CitywatchConfig, GroupHost]:
    data = demo_config_dict(tmp_path)
    data["cameras"][0]["replay"] = {"speed": "realtime"}
    data["cluster"] = {"checkpoint_s": 0.1}
    config = CitywatchConfig.model_validate(data)
    return config, GroupHost(config, "g0", ["campus-road"], detector=load_detector(config.detector))


def test_a_restarted_group_resends_what_was_not_acknowledged(tmp_path: Path, model_dir: Path) -> None:
    config, host = _host(tmp_path)
    pipeline = CameraPipeline(config.cameras[0])
    pending = EventEnd("uid-1", "campus-road", 12.0, 11.5)
    assert not host.started and host.pull(0, host.incarnation).entries == []  # not started: nothing yet
    host.start({"campus-road": CameraCheckpoint(pipeline.snapshot(), [pending])}, mode="normal")
    try:
        first = host.pull(0, "an older incarnation")  # an ack for another incarnation is ignored
        assert [entry.message for entry in first.entries] == [pending]
        again = host.pull(0, host.incarnation)
        assert [entry.seq for entry in again.entries] == [first.entries[0].seq]  # kept until acknowledged
        host.pull(first.entries[0].seq, host.incarnation)
        deadline = time.monotonic() + 30
        report = host.pull(first.entries[0].seq, host.incarnation)
        while report.health["campus-road"]["frames_analysed"] < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
            report = host.pull(first.entries[0].seq, host.incarnation)
        assert report.entries == [] and report.health["campus-road"]["state"] == "online"
        assert report.rss_bytes > 0 and report.checkpoint is not None and "campus-road" in report.checkpoint
    finally:
        host.stop()


def test_a_busy_camera_is_left_out_of_a_checkpoint_instead_of_blocking_the_pull(
    tmp_path: Path, model_dir: Path
) -> None:
    _, host = _host(tmp_path)
    host.start({})
    try:
        assert host.runtime is not None
        lock = host.runtime.analysis_locks["campus-road"]
        held, release = threading.Event(), threading.Event()

        def busy() -> None:  # as a camera thread waiting for outbox room, holding its lock
            with lock:
                held.set()
                release.wait(10)

        thread = threading.Thread(target=busy)
        thread.start()
        held.wait(5)
        started = time.monotonic()
        assert host.checkpoint(wait_s=0.1) == {}
        assert time.monotonic() - started < 2
        release.set()
        thread.join(5)
        assert set(host.checkpoint()) == {"campus-road"}
    finally:
        host.stop()


def test_a_groups_event_clip_is_written_by_the_group_and_attached_by_the_driver(
    tmp_path: Path, model_dir: Path
) -> None:
    """A camera group writes its events' clips into the shared recordings directory and queues each
    outcome (`ClipReady`) behind its event; the driver's sink then points the row at the file."""
    data = demo_config_dict(tmp_path)
    data["cameras"][0]["replay"] = {"speed": "fast"}
    data["cameras"][0]["record"] = {"clips": True, "pre_s": 2, "post_s": 2}
    config = CitywatchConfig.model_validate(data)
    database = open_database(config.storage.database_url)
    register_cameras(database, config.cameras)
    sink = EventSink.from_config(config, database)
    supervisor = Supervisor(sink, {"g0": ["campus-road"]})
    host = GroupHost(config, "g0", ["campus-road"], detector=load_detector(config.detector))
    host.start({})
    messages: list[object] = []
    try:
        acked, deadline = 0, time.monotonic() + 120
        while not any(isinstance(m, ClipReady) for m in messages) and time.monotonic() < deadline:
            report = host.pull(acked, host.incarnation)
            messages += [entry.message for entry in report.entries if entry.seq > acked]
            acked = supervisor.absorb(report)
            time.sleep(0.2)
    finally:
        host.stop()
        report = host.pull(acked, host.incarnation)
        messages += [entry.message for entry in report.entries if entry.seq > acked]
        supervisor.absorb(report)
    (ready,) = [m for m in messages if isinstance(m, ClipReady)]
    (event,) = [m for m in messages if isinstance(m, EventRecord)]
    assert messages.index(event) < messages.index(ready) and ready.uid == event.uid
    assert ready.camera_id == "campus-road" and ready.clip is not None and ready.reason is None
    with database.session() as session:
        (row,) = session.query(Event).all()
    assert row.uid == event.uid and row.clip == ready.clip
    clip = config.storage.recordings_root / ready.clip
    (stream,) = probe(clip)["streams"]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("msmpeg4v3", 768, 576)
    sink.close()
    database.dispose()
