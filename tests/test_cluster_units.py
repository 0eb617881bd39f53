"""The cluster engine's parts without Ray or video: the stable partition, a camera's checkpoint
round trip through a new pipeline (a parked vehicle neither lost nor raised twice), the bounded
outbox and its acknowledgements, the driver's supervisor storing through a real `EventSink` on
SQLite (a re-sent event stored once), and the `cluster:` config section's errors."""

from __future__ import annotations

import pickle
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import supervision as sv
from sqlalchemy import select

from citywatch.cluster.group_host import NO_PHOTOS, CameraCheckpoint, GroupReport, photo_keys, slim_checkpoint
from citywatch.cluster.outbox import Outbox, OutboxSink
from citywatch.cluster.partition import partition
from citywatch.cluster.supervisor import Supervisor
from citywatch.config import CameraConfig, CitywatchConfig, ConfigError, parse_config
from citywatch.domain.cameras import register_cameras
from citywatch.domain.db import open_database
from citywatch.domain.tables import Event
from citywatch.events import EventEnd, EventRecord
from citywatch.pipeline import CameraPipeline
from citywatch.sink import EventSink
from vision.frames import Frame
from vision.rules.base import DwellState, Stay
from vision.rules.resume import rebase_dwell

W, H = 320, 240
CAR = (100.0, 150.0, 160.0, 200.0)  # bottom centre (130, 200) -> (0.41, 0.83), inside the zone
WALL = 1_780_000_000.0


def camera() -> CameraConfig:
    return CameraConfig.model_validate(
        {
            "id": "cam",
            "url": "clip.mp4",
            "analysis_fps": 1,
            "zones": [{"id": "kerb", "polygon": [[0.2, 0.6], [0.6, 0.6], [0.6, 1.0], [0.2, 1.0]]}],
            "rules": [{"id": "no-parking", "type": "illegal_parking", "zones": ["kerb"], "min_dwell_s": 10}],
        }
    )


def frame(t: float) -> Frame:
    return Frame("cam", int(t), t, WALL + t, np.full((H, W, 3), 90, np.uint8))


def car() -> sv.Detections:
    dets = sv.Detections(
        xyxy=np.array([CAR], dtype=np.float32), confidence=np.array([0.9], np.float32), class_id=np.array([2])
    )
    dets.data["label"] = np.array(["car"], dtype=object)
    return dets


def run(pipeline: CameraPipeline, times: range, offset: float = 0.0) -> list:
    outputs: list = []
    for t in times:
        outputs += pipeline.process(frame(t + offset), car())
    return outputs


def test_checkpoints_send_each_photo_once_and_the_driver_keeps_them_whole(tmp_path: Path) -> None:
    """A live stay's photos cross once: after the driver acknowledges a checkpoint, the next one
    leaves them out, and the driver's copy (which a restart uses) still has every photo."""
    database = open_database(f"sqlite:///{tmp_path / 'cw.db'}")
    supervisor = Supervisor(EventSink(database, tmp_path / "evidence"), {"g0": ["cam"]})
    pipeline = CameraPipeline(camera())
    run(pipeline, range(0, 6))  # a parked car: entry photo taken, no event yet
    first = pipeline.snapshot()
    assert first.entry_jpeg, "the stay has an entry photo"
    supervisor.absorb(
        GroupReport(
            "g0", "inc", True, "h", 1, checkpoint={"cam": slim_checkpoint(first, [], NO_PHOTOS)}, checkpoint_no=1
        )
    )
    assert supervisor.groups["g0"].checkpoint_ack == 1  # acknowledged with the next pull
    run(pipeline, range(6, 9))
    now = pipeline.snapshot()
    second = slim_checkpoint(now, [], photo_keys(first))  # the group now knows the driver holds them
    assert second.snapshot.entry_jpeg == {} and second.reused_entry == frozenset(first.entry_jpeg)
    whole = pickle.dumps(slim_checkpoint(now, [], NO_PHOTOS))
    assert len(whole) - len(pickle.dumps(second)) >= sum(map(len, first.entry_jpeg.values()))
    supervisor.absorb(GroupReport("g0", "inc", True, "h", 1, checkpoint={"cam": second}, checkpoint_no=2))
    held = supervisor.checkpoints("g0")["cam"]
    assert held.snapshot.entry_jpeg == first.entry_jpeg and supervisor.groups["g0"].checkpoint_ack == 2
    restarted = CameraPipeline(camera())
    restarted.restore(held.snapshot)
    (event,) = [o for o in run(restarted, range(50, 60)) if isinstance(o, EventRecord)]
    assert event.images["entry"] == next(iter(first.entry_jpeg.values()))  # the photo survived, sent once


def test_a_checkpoint_whose_photos_the_driver_lacks_is_asked_for_whole(tmp_path: Path) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'cw.db'}")
    supervisor = Supervisor(EventSink(database, tmp_path / "evidence"), {"g0": ["cam"]})
    pipeline = CameraPipeline(camera())
    run(pipeline, range(0, 6))
    snapshot = pipeline.snapshot()
    slim = slim_checkpoint(snapshot, [], photo_keys(snapshot))  # claims the driver holds photos it never got
    supervisor.absorb(GroupReport("g0", "inc", True, "h", 1, checkpoint={"cam": slim}, checkpoint_no=1))
    view = supervisor.groups["g0"]
    assert view.whole_checkpoint and view.checkpoint_ack == 0 and supervisor.checkpoints("g0") == {}


# --- partition ---------------------------------------------------------------------------------


def test_partition_is_bounded_deterministic_and_stable() -> None:
    cameras = [f"cam-{i:03d}" for i in range(350)]
    groups = partition(cameras, 16)
    assert len(groups) == 22 and max(len(ids) for ids in groups.values()) <= 16
    assert sorted(c for ids in groups.values() for c in ids) == sorted(cameras)
    assert partition(list(reversed(cameras)), 16) == groups  # the order of the config does not matter
    group_of = {c: g for g, ids in groups.items() for c in ids}
    for added in ("cam-new", "cam-other"):
        grown = {c: g for g, ids in partition([*cameras, added], 16).items() for c in ids}
        assert sum(grown[c] != group_of[c] for c in cameras) <= 3  # adding a camera moves few others
    sequential = {c: i // 16 for i, c in enumerate(sorted(cameras))}  # chunking instead: one move per group
    assert (
        sum(sequential[c] != {c: i // 16 for i, c in enumerate(sorted(["cam-000a", *cameras]))}[c] for c in cameras)
        > 10
    )
    with pytest.raises(ValueError):
        partition(cameras, 0)


# --- checkpoints -------------------------------------------------------------------------------


def test_a_checkpoint_carries_a_triggered_stay_into_a_new_pipeline() -> None:
    first = CameraPipeline(camera())
    events = [o for o in run(first, range(0, 15)) if isinstance(o, EventRecord)]
    assert len(events) == 1  # triggered at 10 s of dwell
    snapshot = pickle.loads(pickle.dumps(first.snapshot()))  # as it crosses to the driver and back
    # the restarted process: a new pipeline, a new stream clock (time starts again near 0)
    second = CameraPipeline(camera())
    second.restore(snapshot)
    later = run(second, range(0, 40), offset=0.5)
    assert not [o for o in later if isinstance(o, EventRecord)], "the parked car raised a second event"
    assert not [o for o in later if isinstance(o, EventEnd)], "the stay ended though the car stayed"
    (end,) = second.finish()
    dwell_before = snapshot.rules["no-parking"].stays[0].dwell_s
    assert isinstance(end, EventEnd) and end.uid == events[0].uid and end.duration_s == dwell_before + 39


def test_without_its_checkpoint_a_restarted_camera_raises_again() -> None:
    """The control of the test above: what the checkpoint prevents."""
    first = CameraPipeline(camera())
    run(first, range(0, 15))
    fresh = CameraPipeline(camera())
    assert [o for o in run(fresh, range(0, 40)) if isinstance(o, EventRecord)]


def test_a_stay_restored_before_its_trigger_keeps_its_dwell_and_event_uid() -> None:
    first = CameraPipeline(camera())
    assert not run(first, range(0, 6))  # 5 s of dwell, no event yet
    snapshot = first.snapshot()
    second = CameraPipeline(camera())
    second.restore(snapshot)
    events = [o for o in run(second, range(100, 110)) if isinstance(o, EventRecord)]
    (event,) = events
    assert event.triggered_s - event.first_seen_s == 10.0  # 5 s before the restart + 5 s after
    assert event.uid == snapshot.stay_uid[("no-parking", 1)]  # re-raised from an older checkpoint: same uid
    assert set(event.images) >= {"entry", "trigger"}  # the entry photo survived the restart


def test_rebase_moves_every_time_and_detaches_tracks() -> None:
    stay = Stay(3, 7, "kerb", "car", 1.0, 9.0, CAR, 0.9, triggered_s=5.0)
    rebased = rebase_dwell(DwellState((stay,), 4), 100.0)
    (moved,) = rebased.stays
    assert (moved.first_seen_s, moved.last_seen_s, moved.triggered_s) == (101.0, 109.0, 105.0)
    assert moved.track_id == -3 and moved.dwell_s == stay.dwell_s and rebased.next_stay_id == 4


# --- the outbox --------------------------------------------------------------------------------


def _end(i: int) -> EventEnd:
    return EventEnd(f"uid-{i}", "cam", float(i), 1.0)


def test_outbox_keeps_messages_until_acknowledged_and_bounds_them() -> None:
    box = Outbox(max_entries=3)
    assert [box.put(_end(i)) for i in range(3)] == [1, 2, 3]
    assert [e.seq for e in box.pending()] == [1, 2, 3] == [e.seq for e in box.pending()]  # a re-pull: same
    with pytest.raises(TimeoutError):
        box.put(_end(3), timeout=0.1)  # full: the camera waits, nothing is dropped
    waiter = threading.Thread(target=box.put, args=(_end(3),))
    waiter.start()
    time.sleep(0.1)
    assert waiter.is_alive()
    assert box.ack(2) == 2
    waiter.join(2)
    assert not waiter.is_alive() and [e.seq for e in box.pending()] == [3, 4]
    assert box.of_camera("cam") == [_end(2), _end(3)]


# --- the supervisor, over a real sink ------------------------------------------------------------


def _config(tmp_path: Path) -> CitywatchConfig:
    return CitywatchConfig.model_validate(
        {
            "storage": {"database_url": f"sqlite:///{tmp_path / 'db.sqlite'}", "evidence_dir": str(tmp_path / "ev")},
            "cameras": [camera().model_dump()],
        }
    )


def test_supervisor_stores_then_acknowledges_and_stores_a_resent_event_once(tmp_path: Path) -> None:
    config = _config(tmp_path)
    database = open_database(config.storage.database_url)
    register_cameras(database, config.cameras)
    sink = EventSink.from_config(config, database)
    supervisor = Supervisor(sink, {"g0": ["cam"]})
    box = Outbox()
    group_sink = OutboxSink(box)
    pipeline = CameraPipeline(camera())
    for output in run(pipeline, range(0, 12)):
        if isinstance(output, EventRecord):
            group_sink.record(output)
    checkpoint = {"cam": CameraCheckpoint(pipeline.snapshot(), box.of_camera("cam"))}
    report = GroupReport("g0", "inc-1", True, "host", 1, entries=box.pending(), checkpoint=checkpoint)
    ack = supervisor.absorb(report)
    assert ack == 1 and supervisor.absorb(report) == 1  # the same report twice: stored once
    # the group restarts before it saw the ack: its checkpoint re-sends the event under a new incarnation
    resent = Outbox()
    for message in supervisor.checkpoints("g0")["cam"].pending:
        resent.put(message)
    assert supervisor.absorb(GroupReport("g0", "inc-2", True, "host", 2, entries=resent.pending())) == 1
    with database.session() as session:
        rows = session.scalars(select(Event)).all()
    assert len(rows) == 1 and supervisor.groups["g0"].restarts == 1
    assert rows[0].evidence and all(Path(item["path"]).is_file() for item in rows[0].evidence)
    supervisor.mark_down("g0", "restarting")
    assert supervisor.placement()["cam"] == {
        "worker": "g0",
        "node": None,
        "host": None,
        "pid": None,
        "status": "unassigned",
    }
    assert supervisor.cluster()["unassigned"] == ["cam"]
    assert supervisor.health()["cam"].state == "offline"
    sink.close()
    database.dispose()


# --- config --------------------------------------------------------------------------------------


def test_cluster_section_defaults_and_errors_with_lines() -> None:
    base = "cameras: [{id: a, url: x.avi}]\n"
    assert parse_config(base).cluster.engine == "inline"
    defaults = parse_config(base).cluster
    assert (defaults.address, defaults.cameras_per_worker) == ("local", 16)
    assert parse_config(base + "cluster: {engine: ray, address: 10.0.0.5:6379}\n").cluster.address == "10.0.0.5:6379"
    with pytest.raises(ConfigError) as error:
        parse_config(base + "cluster:\n  engine: spark\n  address: somewhere\n  cameras_per_worker: 0\n")
    problems = error.value.problems
    assert any(p.startswith("line 3: cluster.engine:") for p in problems), problems
    assert any(p.startswith("line 4: cluster.address:") for p in problems), problems
    assert any(p.startswith("line 5: cluster.cameras_per_worker:") for p in problems), problems
