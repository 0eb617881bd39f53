"""The driver's side of a cluster: what every camera group reported, stored and acknowledged.

`Supervisor` lives in the API (driver) process, whatever carries the reports (Ray, or a test's
direct calls). `absorb(report)` stores each new outbox entry through the real `EventSink`
(evidence first, then the row; the spool while the database is down) and returns the sequence to
acknowledge, so a group drops a message only once it is stored, and a message re-sent after a
restart is skipped (or stored once, by uid). It keeps the latest checkpoint of each camera, the
driver's own `StreamHealth` per camera (cameras of a group that is down are `unassigned`), and
placement: which worker and node runs each camera.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from citywatch.cluster.group_host import CameraCheckpoint, GroupReport, merge_photos
from citywatch.cluster.outbox import ClipReady, ZoneClear
from citywatch.events import EventEnd, EventRecord
from citywatch.sink import EventSink
from vision.streams import StreamHealth, StreamState

log = logging.getLogger(__name__)

#: Health fields copied from a group's `health_snapshot` onto the driver's `StreamHealth`.
_COUNTERS = ("frames_in", "frames_decoded", "frames_sampled", "frames_analysed", "frames_dropped", "reconnects")
_FIELDS = {
    "state_since": "state_since_wall_s",
    "last_frame_at": "last_frame_wall_s",
    "stream_s": "last_frame_stream_s",
    "last_error": "last_error",
    "last_error_at": "last_error_wall_s",
    "width": "width",
    "height": "height",
    "decode": "decode",
    "keyframe_interval_s": "keyframe_interval_s",
}


@dataclass
class GroupView:
    """The driver's view of one camera group (one worker)."""

    group_id: str
    camera_ids: list[str]
    incarnation: str | None = None
    acked: int = 0
    up: bool = False
    node: str | None = None
    host: str | None = None
    pid: int | None = None
    cpu_percent: float = 0.0
    rss_bytes: int = 0
    restarts: int = 0
    stored: int = 0
    #: The last checkpoint of this incarnation taken whole (acknowledged with the next pull), and
    #: whether the next one must carry every photo (one could not be merged).
    checkpoint_ack: int = 0
    whole_checkpoint: bool = False
    down_reason: str | None = "starting"
    last_report_wall_s: float | None = None
    detector_stats: dict[str, dict[str, int]] = field(default_factory=dict)
    pipeline_status: dict[str, dict[str, Any]] = field(default_factory=dict)


def apply_health(health: StreamHealth, snapshot: dict[str, Any]) -> None:
    """Copy a worker's health snapshot onto the driver's `StreamHealth` of that camera (its rate
    window then measures the rates from the copied counters)."""
    health.state = StreamState(snapshot["state"])
    for key, attribute in _FIELDS.items():
        setattr(health, attribute, snapshot.get(key))
    for counter in _COUNTERS:
        setattr(health, counter, int(snapshot.get(counter) or 0))


class Supervisor:
    """Stores what groups report and keeps their state (thread-safe).

    Example:
        >>> supervisor = Supervisor(sink, {"g0": ["cam-1", "cam-2"]})  # doctest: +SKIP
        >>> ack = supervisor.absorb(host.pull(0, "", "normal"))  # stored; acknowledge `ack` next  # doctest: +SKIP
    """

    def __init__(
        self, sink: EventSink, groups: dict[str, list[str]], nodes: Callable[[], list[dict[str, Any]]] | None = None
    ):
        self.sink = sink
        self.groups = {group_id: GroupView(group_id, list(ids)) for group_id, ids in groups.items()}
        self.group_of = {camera_id: group_id for group_id, ids in groups.items() for camera_id in ids}
        self.camera_health = {camera_id: StreamHealth() for camera_id in self.group_of}
        #: The latest checkpoint of each camera, whichever group ran it.
        self.camera_checkpoints: dict[str, CameraCheckpoint] = {}
        self.nodes = nodes
        self._lock = threading.RLock()

    def set_groups(self, groups: dict[str, list[str]], keep: tuple[str, ...] = ()) -> None:
        """A new partition (a reload): groups in `keep` go on as they are, the others start afresh;
        cameras no longer configured are forgotten, new ones start `connecting`."""
        with self._lock:
            self.groups = {
                group_id: self.groups[group_id] if group_id in keep else GroupView(group_id, list(ids))
                for group_id, ids in groups.items()
            }
            self.group_of = {camera_id: group_id for group_id, ids in groups.items() for camera_id in ids}
            self.camera_health = {c: self.camera_health.get(c) or StreamHealth() for c in self.group_of}
            self.camera_checkpoints = {c: cp for c, cp in self.camera_checkpoints.items() if c in self.group_of}

    def absorb(self, report: GroupReport) -> int:
        """Take one group's report: store its new entries, update health, counters and checkpoints;
        the sequence number to acknowledge."""
        with self._lock:
            view = self.groups[report.group_id]
            if report.incarnation != view.incarnation:
                if view.incarnation is not None:
                    view.restarts += 1
                    log.warning("group %s restarted (now pid %d on %s)", view.group_id, report.pid, report.host)
                view.incarnation, view.acked, view.checkpoint_ack = report.incarnation, 0, 0
            view.node, view.host, view.pid = report.node, report.host, report.pid
            view.cpu_percent, view.rss_bytes = report.cpu_percent, report.rss_bytes
            view.last_report_wall_s = time.time()
            if report.checkpoint is not None:
                self._take_checkpoint(view, report)
            if not report.started:
                return view.acked
            view.up, view.down_reason = True, None
            view.detector_stats, view.pipeline_status = report.detector_stats, report.pipeline_status
            for camera_id, snapshot in report.health.items():
                if camera_id in self.camera_health:
                    apply_health(self.camera_health[camera_id], snapshot)
        for entry in report.entries:  # stored outside the lock: a slow database must not block reads
            if entry.seq <= view.acked:
                continue  # stored already (a reply lost, or a re-pull)
            self._store(entry.message)
            view.acked, view.stored = entry.seq, view.stored + 1
        return view.acked

    def _take_checkpoint(self, view: GroupView, report: GroupReport) -> None:
        """Keep a report's camera checkpoints, their left-out photos filled in from the ones held;
        acknowledge it when every camera merged, else ask for a whole one next."""
        merged_all = True
        for camera_id, checkpoint in (report.checkpoint or {}).items():
            merged = merge_photos(checkpoint, self.camera_checkpoints.get(camera_id))
            if merged is None:
                merged_all = False
                log.warning(
                    "group %s: camera %s checkpoint lacks photos held nowhere; asking for it whole",
                    view.group_id,
                    camera_id,
                )
            else:
                self.camera_checkpoints[camera_id] = merged
        if merged_all:
            view.checkpoint_ack, view.whole_checkpoint = report.checkpoint_no, False
        else:
            view.whole_checkpoint = True

    def _store(self, message: object) -> None:
        if isinstance(message, EventRecord):
            self.sink.record(message)
        elif isinstance(message, EventEnd):
            self.sink.end(message)
        elif isinstance(message, ClipReady):
            self.sink.attach_clip(message.uid, message.clip, message.reason)
        elif isinstance(message, ZoneClear):
            verified = self.sink.zone_clear(message.camera_id, message.zone_id, message.rule_type, message.clear_since)
            if verified:
                log.info("camera %s zone %s clear: verified case(s) %s", message.camera_id, message.zone_id, verified)

    def mark_down(self, group_id: str, reason: str) -> None:
        """A group that does not answer (or is starting): its cameras are unassigned, `offline` (or
        `connecting`) with the reason as their last error, until it reports again."""
        with self._lock:
            view = self.groups[group_id]
            if view.up:
                log.warning(
                    "group %s down: %s; its %d camera(s) are unassigned", group_id, reason, len(view.camera_ids)
                )
            view.up, view.down_reason = False, reason
            state = StreamState.CONNECTING if reason == "starting" else StreamState.OFFLINE
            for camera_id in view.camera_ids:
                self.camera_health[camera_id].set_state(state, f"unassigned: worker {group_id} {reason}")

    def checkpoints(self, group_id: str) -> dict[str, CameraCheckpoint]:
        """The latest checkpoint of every camera of a group (to restart it with)."""
        with self._lock:
            ids = self.groups[group_id].camera_ids
            return {c: self.camera_checkpoints[c] for c in ids if c in self.camera_checkpoints}

    def forget_checkpoints(self, camera_ids: set[str]) -> None:
        """Drop the checkpoints of cameras whose configuration changed (they start afresh)."""
        with self._lock:
            for camera_id in camera_ids:
                self.camera_checkpoints.pop(camera_id, None)

    def health(self) -> dict[str, StreamHealth]:
        return dict(self.camera_health)

    def detector_stats(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {k: v for view in self.groups.values() for k, v in view.detector_stats.items()}

    def pipeline_status(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {k: v for view in self.groups.values() for k, v in view.pipeline_status.items()}

    def placement(self) -> dict[str, dict[str, Any]]:
        """Per camera: `worker` (group id), `node`, `host`, `pid` and `status` (assigned, unassigned)."""
        with self._lock:
            placement = {}
            for view in self.groups.values():
                for camera_id in view.camera_ids:
                    placement[camera_id] = {
                        "worker": view.group_id,
                        "node": view.node if view.up else None,
                        "host": view.host if view.up else None,
                        "pid": view.pid if view.up else None,
                        "status": "assigned" if view.up else "unassigned",
                    }
            return placement

    def cluster(self) -> dict[str, Any]:
        """Nodes, workers (cameras, CPU, memory, restarts) and unassigned cameras, JSON-ready."""
        with self._lock:
            workers = [
                {
                    "worker": view.group_id,
                    "node": view.node if view.up else None,
                    "host": view.host if view.up else None,
                    "pid": view.pid if view.up else None,
                    "state": "up" if view.up else "down",
                    "reason": view.down_reason,
                    "cameras": list(view.camera_ids),
                    "cpu_percent": round(view.cpu_percent, 1),
                    "rss_bytes": view.rss_bytes,
                    "restarts": view.restarts,
                    "events_stored": view.stored,
                }
                for view in self.groups.values()
            ]
        nodes = self.nodes() if self.nodes is not None else []
        for node in nodes:
            node["workers"] = [w["worker"] for w in workers if w["node"] == node["node"]]
        unassigned = sorted(c for view in self.groups.values() if not view.up for c in view.camera_ids)
        return {"engine": "ray", "nodes": nodes, "workers": workers, "unassigned": unassigned}
