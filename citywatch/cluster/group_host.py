"""The group host: one camera group running in a worker process (a Ray actor, or a test's thread).

`GroupHost` holds a `Runtime` over the group's cameras, each camera's reader, gating, detector,
tracking, rules and evidence encoding in this process, writing to an `OutboxSink` instead of the
database. Only what the driver pulls crosses the process, about once per poll: outbox batches
(events with evidence bytes, ends, zone-clear notices), health snapshots, counters, CPU and memory,
and every `checkpoint_s` a checkpoint of each camera (`CameraCheckpoint`). Nothing per frame does.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, cast

import psutil

from citywatch.cluster.outbox import Entry, Message, Outbox, OutboxSink
from citywatch.config import CitywatchConfig
from citywatch.detectors import load_detector_set
from citywatch.modes import ModeHolder
from citywatch.pipeline import PipelineSnapshot
from citywatch.runtime import Runtime
from citywatch.sink import EventSink
from vision.detect import Detector, DetectorSet
from vision.frames import Frame
from vision.streams import health_snapshot

log = logging.getLogger(__name__)


#: A live stay's key in a snapshot's photo maps: (rule id, stay id).
StayKey = tuple[str, int]


@dataclass(frozen=True)
class CameraCheckpoint:
    """One camera's state for a restart: its pipeline snapshot and the messages the driver had not
    acknowledged when it was taken (re-sent after a restart; stored once, by uid).

    A stay's entry and middle photos are set once and never change, so a checkpoint carries only
    the photos the driver does not hold yet: `reused_entry` / `reused_middle` name the stays whose
    photos are left out, to be taken from the driver's previous checkpoint (`merge_photos`)."""

    snapshot: PipelineSnapshot
    pending: list[Message] = field(default_factory=list)
    reused_entry: frozenset[StayKey] = frozenset()
    reused_middle: frozenset[StayKey] = frozenset()


def slim_checkpoint(
    snapshot: PipelineSnapshot, pending: list[Message], held: tuple[frozenset[StayKey], frozenset[StayKey]]
) -> CameraCheckpoint:
    """A checkpoint of `snapshot` without the photos of the stays in `held` (entry, middle): the
    ones the driver has acknowledged holding."""
    reused_entry = held[0] & snapshot.entry_jpeg.keys()
    reused_middle = held[1] & snapshot.middle_jpeg.keys()
    slim = replace(
        snapshot,
        entry_jpeg={k: v for k, v in snapshot.entry_jpeg.items() if k not in reused_entry},
        middle_jpeg={k: v for k, v in snapshot.middle_jpeg.items() if k not in reused_middle},
    )
    return CameraCheckpoint(slim, pending, reused_entry, reused_middle)


def merge_photos(checkpoint: CameraCheckpoint, previous: CameraCheckpoint | None) -> CameraCheckpoint | None:
    """`checkpoint` whole: its left-out photos filled in from `previous` (the one the driver holds);
    None when `previous` lacks one of them (then the driver asks for a whole checkpoint)."""
    if not checkpoint.reused_entry and not checkpoint.reused_middle:
        return checkpoint
    if previous is None:
        return None
    entry, middle = dict(checkpoint.snapshot.entry_jpeg), dict(checkpoint.snapshot.middle_jpeg)
    for keys, have, into in (
        (checkpoint.reused_entry, previous.snapshot.entry_jpeg, entry),
        (checkpoint.reused_middle, previous.snapshot.middle_jpeg, middle),
    ):
        if not keys <= have.keys():
            return None
        into.update({key: have[key] for key in keys})
    snapshot = replace(checkpoint.snapshot, entry_jpeg=entry, middle_jpeg=middle)
    return CameraCheckpoint(snapshot, checkpoint.pending)


@dataclass
class GroupReport:
    """What one pull returns to the driver."""

    group_id: str
    incarnation: str
    started: bool
    host: str
    pid: int
    entries: list[Entry] = field(default_factory=list)
    health: dict[str, dict[str, Any]] = field(default_factory=dict)
    detector_stats: dict[str, dict[str, int]] = field(default_factory=dict)
    pipeline_status: dict[str, dict[str, Any]] = field(default_factory=dict)
    cpu_percent: float = 0.0
    rss_bytes: int = 0
    checkpoint: dict[str, CameraCheckpoint] | None = None
    #: The number of `checkpoint` within this incarnation; the driver acknowledges it with the next pull.
    checkpoint_no: int = 0
    node: str | None = None


#: Checkpoints kept for the driver's acknowledgement; older ones are forgotten (their photos are
#: then sent again, never taken as held).
MAX_UNACKED_CHECKPOINTS = 8
NO_PHOTOS: tuple[frozenset[StayKey], frozenset[StayKey]] = (frozenset(), frozenset())


def photo_keys(snapshot: PipelineSnapshot) -> tuple[frozenset[StayKey], frozenset[StayKey]]:
    """The stays of a snapshot that have an entry photo, and those that have a middle photo."""
    return frozenset(snapshot.entry_jpeg), frozenset(snapshot.middle_jpeg)


class GroupHost:
    """Runs the cameras `camera_ids` of `config` once `start` is called (with checkpoints to resume).

    Example:
        >>> host = GroupHost(config, "g0", ["cam-1", "cam-2"])  # doctest: +SKIP
        >>> host.start({})  # doctest: +SKIP
        >>> report = host.pull(0, host.incarnation, "normal")  # entries, health, checkpoint  # doctest: +SKIP
    """

    def __init__(
        self,
        config: CitywatchConfig,
        group_id: str,
        camera_ids: list[str],
        cwd: str | None = None,
        detector: Detector | DetectorSet | None = None,
    ):
        self.group_id = group_id
        self.camera_ids = list(camera_ids)
        wanted = set(camera_ids)
        self.config = config.model_copy(update={"cameras": [c for c in config.cameras if c.id in wanted]})
        self.cwd = cwd
        self.detector = detector
        #: A new value at every (re)start of the process: the driver re-sends checkpoints on a change.
        self.incarnation = uuid.uuid4().hex
        self.outbox = Outbox(config.cluster.outbox_max)
        self.modes = ModeHolder(self.config)
        self.runtime: Runtime | None = None
        self.sink: OutboxSink | None = None
        self._last_checkpoint = 0.0
        self._checkpoint_no = 0
        #: Per camera, the stays whose (entry, middle) photos the driver holds (acknowledged).
        self._held: dict[str, tuple[frozenset[StayKey], frozenset[StayKey]]] = {}
        #: Per checkpoint sent and not yet acknowledged: what the driver holds once it has it.
        self._sent: dict[int, dict[str, tuple[frozenset[StayKey], frozenset[StayKey]]]] = {}
        self._process = psutil.Process()
        self._process.cpu_percent(None)

    @property
    def started(self) -> bool:
        return self.runtime is not None

    def start(self, checkpoints: dict[str, CameraCheckpoint], mode: str | None = None) -> str:
        """Open the detector and the cameras, restore their checkpoints, start them; the incarnation."""
        if self.runtime is not None:
            return self.incarnation
        if self.cwd and os.path.isdir(self.cwd):
            os.chdir(self.cwd)  # relative paths of the config (models, files) are the driver's
        if mode is not None and mode != self.modes.mode:
            self.modes.set(mode, "driver", via="cluster")
        detector = self.open_detector()
        storage = self.config.storage
        self.sink = OutboxSink(
            self.outbox,
            recordings_dir=storage.recordings_root,
            max_recordings_bytes=int(storage.max_recordings_gb * 1e9),
        )
        sink = cast(EventSink, self.sink)  # the runtime calls record, end, zone_clear, clips, clip_name only
        runtime = Runtime(self.config, detector, sink, modes=self.modes)
        for camera_id, checkpoint in checkpoints.items():
            worker = runtime.workers.get(camera_id)
            if worker is None:
                continue
            for message in checkpoint.pending:
                self.outbox.put(message)
            worker.pipeline.restore(checkpoint.snapshot)
            self._held[camera_id] = photo_keys(checkpoint.snapshot)  # the driver restored us from them
        runtime.start()
        self.runtime = runtime
        self._last_checkpoint = time.monotonic()
        log.info("group %s: %d camera(s) started (%d restored)", self.group_id, len(runtime.workers), len(checkpoints))
        return self.incarnation

    def open_detector(self) -> Detector | DetectorSet:
        """The group's detectors: the one given, else every configured model, opened here."""
        return self.detector or load_detector_set(self.config.detector, self.config.detectors)

    def checkpoint(self, wait_s: float = 0.2, whole: bool = False) -> dict[str, CameraCheckpoint]:
        """Every camera's checkpoint now, each taken between two of its frames, without the photos
        the driver holds already (all of them when `whole`). A camera busy for longer than
        `wait_s` (e.g. waiting for room in a full outbox, which only this pull's acknowledgement
        frees) is left out this time: the driver keeps its previous checkpoint."""
        if self.runtime is None:
            return {}
        checkpoints, holds = {}, {}
        for camera_id, worker in self.runtime.workers.items():
            lock = self.runtime.analysis_locks[camera_id]
            if not lock.acquire(timeout=wait_s):
                continue
            try:
                snapshot, pending = worker.pipeline.snapshot(), self.outbox.of_camera(camera_id)
            finally:
                lock.release()
            held = NO_PHOTOS if whole else self._held.get(camera_id, NO_PHOTOS)
            checkpoints[camera_id] = slim_checkpoint(snapshot, pending, held)
            holds[camera_id] = photo_keys(snapshot)
        self._checkpoint_no += 1
        self._sent[self._checkpoint_no] = holds
        for stale in sorted(self._sent)[:-MAX_UNACKED_CHECKPOINTS]:  # a driver that never acknowledges
            del self._sent[stale]
        return checkpoints

    def _acknowledge_checkpoint(self, number: int) -> None:
        """The driver holds checkpoint `number` (and has dropped the older ones it superseded)."""
        if number not in self._sent:
            return
        for done in [n for n in self._sent if n <= number]:
            self._held.update(self._sent.pop(done))

    def pull(
        self,
        ack_seq: int,
        incarnation: str,
        mode: str | None = None,
        limit: int = 100,
        checkpoint: bool = False,
        checkpoint_ack: int = 0,
        whole_checkpoint: bool = False,
    ) -> GroupReport:
        """Acknowledge up to `ack_seq` and the checkpoint `checkpoint_ack` (when `incarnation` is
        this one), adopt the driver's `mode`, and report: the next outbox batch, health, counters,
        CPU, memory and, when due (or asked for with `checkpoint` or `whole_checkpoint`), a
        checkpoint (with every photo when `whole_checkpoint`)."""
        if incarnation == self.incarnation:
            self.outbox.ack(ack_seq)
            self._acknowledge_checkpoint(checkpoint_ack)
        if mode is not None and mode != self.modes.mode and mode in self.config.modes:
            self.modes.set(mode, "driver", via="cluster")
        report = GroupReport(self.group_id, self.incarnation, self.started, socket.gethostname(), os.getpid())
        report.node = self.node_id()
        report.cpu_percent = self._process.cpu_percent(None)
        report.rss_bytes = self._process.memory_info().rss
        if self.runtime is None:
            return report
        report.entries = self.outbox.pending(limit)
        report.health = {camera_id: health_snapshot(h) for camera_id, h in self.runtime.health().items()}
        report.detector_stats = self.runtime.detector_stats()
        report.pipeline_status = self.runtime.pipeline_status()
        due = time.monotonic() - self._last_checkpoint >= self.config.cluster.checkpoint_s
        if checkpoint or whole_checkpoint or due:
            self._last_checkpoint = time.monotonic()
            report.checkpoint = self.checkpoint(whole=whole_checkpoint)
            report.checkpoint_no = self._checkpoint_no
        return report

    def node_id(self) -> str | None:
        """The node this group runs on, as the cluster names it (None outside a cluster)."""
        return None

    def latest_frame(self, camera_id: str) -> Frame | None:
        """The last frame analysed on one camera (asked for by the console, never pushed)."""
        return self.runtime.latest_frame(camera_id) if self.runtime is not None else None

    def stop(self) -> None:
        """Stop every camera (their last outputs stay in the outbox for a final pull)."""
        self.outbox.close()
        if self.runtime is not None:
            self.runtime.stop()
        if self.sink is not None:
            self.sink.close()  # the clips being written: their outcomes go into the outbox
