"""The Ray engine: each camera group a Ray actor (a worker process of its own), supervised from the
driver (the API process), which is the one writer of events.

Imported only when `cluster.engine` is `ray` (`citywatch.cluster.engine.open_engine`). Groups come
from `partition` and are placed round-robin over the live nodes (soft node affinity: a group whose
node is gone is placed elsewhere). Actors restart without limit; a restarted actor reports that it
has not started, and the driver starts it with its cameras' latest checkpoints. A driver thread
pulls every group each `cluster.poll_s`, pushing the current mode with each pull, storing what it
gets through the `Supervisor` and acknowledging it with the next pull. Ray's token authentication
is left as Ray sets it (on by default for a local instance; `RAY_AUTH_MODE=token` on every node of
a cluster): nothing here turns it off.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from citywatch.cluster.detector_actor import DetectorService, ModelGeometry, remote_detector
from citywatch.cluster.group_host import GroupHost, GroupReport
from citywatch.cluster.partition import partition
from citywatch.cluster.reload import ReloadPlan, plan_reload
from citywatch.cluster.supervisor import Supervisor
from citywatch.config import CitywatchConfig
from citywatch.detectors import load_detector, promoted_detectors, scope_of
from citywatch.modes import ModeHolder
from citywatch.sink import EventSink
from vision.detect import Detector, DetectorSet
from vision.detect.detector_set import Scope
from vision.frames import Frame
from vision.streams import StreamHealth

log = logging.getLogger(__name__)

#: A group whose pull has not answered for this long has its cameras shown unassigned.
DOWN_AFTER_S = 5.0


class RayGroupHost(GroupHost):
    """A `GroupHost` that names its Ray node in every report and, given a detector actor, sends its
    primary model's batches there (other models of `detectors:` still run in the group)."""

    def __init__(
        self,
        config: CitywatchConfig,
        group_id: str,
        camera_ids: list[str],
        cwd: str | None = None,
        detector_actor: Any = None,
    ):
        super().__init__(config, group_id, camera_ids, cwd)
        self.detector_actor = detector_actor

    def open_detector(self) -> Detector | DetectorSet:
        if self.detector_actor is None:
            return super().open_detector()
        return remote_detector_set(self.config, self.detector_actor)

    def node_id(self) -> str | None:
        return str(ray.get_runtime_context().get_node_id())


@dataclass
class _Slot:
    """The driver's handle on one group's actor and its calls in flight."""

    actor: Any
    pull_ref: Any = None
    start_ref: Any = None
    sent_at: float = 0.0


def remote_detector_set(config: CitywatchConfig, actor: Any) -> DetectorSet:
    """The primary model through the detector actor `actor`; the `detectors:` extras and the
    promoted models (`citywatch models promote`, with their camera and label scopes) opened here,
    as the embedded runtime opens them (`load_detector_set`)."""
    geometry: ModelGeometry = ray.get(actor.geometry.remote())
    primary = remote_detector(geometry, lambda batch: ray.get(actor.infer.remote(batch)))
    detectors: dict[str, Detector] = {primary.name: primary}
    scopes: dict[str, Scope] = {}
    for extra in (*config.detectors, *promoted_detectors(config.detector)):
        detector = load_detector(extra)
        detectors[detector.name] = detector
        if (scope := scope_of(extra)) is not None:
            scopes[detector.name] = scope
    return DetectorSet(
        detectors,
        max_batch=config.detector.batch_size,
        max_wait_s=config.detector.batch_wait_ms / 1000,
        scopes=scopes,
    )


def start_detector_actors(config: CitywatchConfig, cwd: str | None) -> list[Any]:
    """`cluster.detector_actors` detector services with `cluster.detector_gpus` each (0: on CPU)."""
    gpus = config.cluster.detector_gpus
    remote = ray.remote(DetectorService)
    options: dict[str, Any] = {"num_gpus": gpus, "num_cpus": 0 if gpus else 1, "max_restarts": -1}  # see _detector_cpus
    options["max_task_retries"] = 3  # inference is idempotent: a batch is re-run on a restarted actor
    return [remote.options(**options).remote(config.detector, cwd) for _ in range(config.cluster.detector_actors)]


def live_nodes() -> list[dict[str, Any]]:
    """Every node Ray knows: id, host, address, alive, CPUs."""
    return [
        {
            "node": node["NodeID"],
            "host": node.get("NodeManagerHostname"),
            "address": node.get("NodeManagerAddress"),
            "alive": bool(node.get("Alive")),
            "cpus": node.get("Resources", {}).get("CPU"),
        }
        for node in ray.nodes()
    ]


class RayEngine:
    """Camera groups as Ray actors; the `Engine` interface for the API.

    Example:
        >>> engine = RayEngine(config, sink, ModeHolder(config, sink.database))  # doctest: +SKIP
        >>> engine.start(); engine.placement()["cam-1"]  # {'worker': 'g0', 'node': '…', ...}  # doctest: +SKIP
    """

    def __init__(self, config: CitywatchConfig, sink: EventSink, modes: ModeHolder, *, cwd: str | None = None):
        self.config = config
        self.cluster_config = config.cluster
        self.sink = sink
        self.modes = modes
        self.cwd = cwd
        cameras = [camera.id for camera in config.cameras if camera.enabled]
        self.groups = partition(cameras, config.cluster.cameras_per_worker)
        self.supervisor = Supervisor(sink, self.groups, nodes=self._nodes)
        self.slots: dict[str, _Slot] = {}
        self.detector_actors: list[Any] = []
        self._owns_ray = False
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # one supervisor cycle or one reload at a time
        self._thread: threading.Thread | None = None

    # --- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Join (or start) Ray, create one actor per group across the live nodes, start pulling."""
        address = self.cluster_config.address
        if not ray.is_initialized():
            if address == "local":
                need = math.ceil(len(self.groups) * self.cluster_config.worker_cpus) + self._detector_cpus()
                ray.init(address="local", num_cpus=max(need, 1), include_dashboard=False, namespace="citywatch")
            else:
                ray.init(address=address, namespace="citywatch")
            self._owns_ray = True
        nodes = self._placement_order()
        if self.cluster_config.detector_placement == "actors":
            self.detector_actors = start_detector_actors(self.config, self.cwd)
        for index, (group_id, camera_ids) in enumerate(sorted(self.groups.items())):
            self.slots[group_id] = _Slot(self._spawn(index, group_id, camera_ids, nodes[index % len(nodes)]))
        log.info(
            "ray engine: %d group(s) of up to %d camera(s) on %d node(s)",
            len(self.slots),
            self.cluster_config.cameras_per_worker,
            len(nodes),
        )
        self._thread = threading.Thread(target=self._loop, name="cluster-supervisor", daemon=True)
        self._thread.start()

    def _detector_cpus(self) -> int:
        """CPUs the CPU detector actors reserve (none for GPU ones, nor when groups run their own)."""
        cluster = self.cluster_config
        return cluster.detector_actors if cluster.detector_placement == "actors" and not cluster.detector_gpus else 0

    def _spawn(self, index: int, group_id: str, camera_ids: list[str], node: str) -> Any:
        """One group's actor (it starts its cameras when the supervisor loop tells it to)."""
        options: dict[str, Any] = {
            "num_cpus": self.cluster_config.worker_cpus,
            "max_restarts": -1,
            "max_task_retries": 0,
            "scheduling_strategy": NodeAffinitySchedulingStrategy(node, soft=True),
        }
        if self.cluster_config.worker_memory_mb is not None:
            options["memory"] = self.cluster_config.worker_memory_mb * 1024 * 1024
        service = self.detector_actors[index % len(self.detector_actors)] if self.detector_actors else None
        return ray.remote(RayGroupHost).options(**options).remote(self.config, group_id, camera_ids, self.cwd, service)

    def reload(self, config: CitywatchConfig) -> ReloadPlan:
        """Go over to `config`'s cameras: groups with the same cameras, configured the same, keep
        running untouched; the others are checkpointed and ended, and their successors start from
        the checkpoints of their unchanged cameras (a changed camera starts afresh)."""
        groups = partition([c.id for c in config.cameras if c.enabled], config.cluster.cameras_per_worker)
        with self._lock:
            plan = plan_reload(self.config, self.groups, config, groups)
            for group_id in plan.retire:
                self._retire(group_id)
            self.supervisor.forget_checkpoints(set(self.supervisor.group_of) - plan.resume)
            self.config, self.groups = config, groups
            self.supervisor.set_groups(groups, plan.keep)
            nodes = self._placement_order()
            for index, group_id in enumerate(plan.start):
                self.slots[group_id] = _Slot(self._spawn(index, group_id, groups[group_id], nodes[index % len(nodes)]))
        log.info("cluster reload: kept %s, restarted or added %s, retired %s", plan.keep, plan.start, plan.retire)
        return plan

    def _retire(self, group_id: str) -> None:
        """Take a last checkpoint of a group and what it holds, store that, and end the actor (its
        live stays are not finished: a successor resumes them)."""
        slot = self.slots.pop(group_id)
        view = self.supervisor.groups[group_id]
        try:
            report = ray.get(slot.actor.pull.remote(view.acked, view.incarnation or "", None, 10_000, True), timeout=30)
            self.supervisor.absorb(report)
        except RayError as exc:  # gone already: its last periodic checkpoint stands
            log.warning("group %s: no last checkpoint (%s)", group_id, exc)
        ray.kill(slot.actor, no_restart=True)

    def _placement_order(self) -> list[str]:
        """Live node ids, the driver's own first."""
        here = ray.get_runtime_context().get_node_id()
        alive = sorted(n["node"] for n in live_nodes() if n["alive"] and n["node"] != here)
        return [here, *alive]

    def stop(self) -> None:
        """Stop pulling, let every group stop its cameras, store their last outputs, end the actors."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(10)
        for group_id, slot in self.slots.items():
            try:
                ray.get(slot.actor.stop.remote(), timeout=20)
                view = self.supervisor.groups[group_id]
                report = ray.get(slot.actor.pull.remote(view.acked, view.incarnation or "", None, 10_000), timeout=20)
                ray.get(slot.actor.pull.remote(self.supervisor.absorb(report), report.incarnation), timeout=20)
            except RayError as exc:
                log.warning("group %s did not stop cleanly: %s", group_id, exc)
            ray.kill(slot.actor)
        for service in self.detector_actors:
            ray.kill(service)
        if self._owns_ray:
            ray.shutdown()

    # --- the supervisor loop ------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stopping.wait(self.cluster_config.poll_s):
            try:
                with self._lock:
                    self._cycle()
            except Exception:  # the loop must outlive any one bad report
                log.exception("cluster supervisor: cycle failed")

    def _cycle(self) -> None:
        mode = self.modes.current()[0]
        now = time.monotonic()
        for group_id, slot in self.slots.items():
            if slot.pull_ref is None and slot.start_ref is None:
                view = self.supervisor.groups[group_id]
                slot.pull_ref = slot.actor.pull.remote(
                    view.acked,
                    view.incarnation or "",
                    mode,
                    checkpoint_ack=view.checkpoint_ack,
                    whole_checkpoint=view.whole_checkpoint,
                )
                slot.sent_at = now
        refs = [ref for slot in self.slots.values() for ref in (slot.pull_ref, slot.start_ref) if ref is not None]
        if not refs:
            return
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=self.cluster_config.poll_s)
        done = set(ready)
        for group_id, slot in self.slots.items():
            if slot.start_ref is not None and slot.start_ref in done:
                slot.start_ref = None
                self._settle(group_id, slot, None)
            if slot.pull_ref is not None and slot.pull_ref in done:
                ref, slot.pull_ref = slot.pull_ref, None
                self._settle(group_id, slot, ref, mode)
            elif slot.pull_ref is not None and time.monotonic() - slot.sent_at > DOWN_AFTER_S:
                self.supervisor.mark_down(group_id, "not answering")

    def _settle(self, group_id: str, slot: _Slot, ref: Any, mode: str | None = None) -> None:
        """Take one finished call: a report is absorbed (and a group that has not started is started
        with its checkpoints); a failed call marks the group down until its actor answers again."""
        if ref is None:
            return
        try:
            report: GroupReport = ray.get(ref)
        except (RayActorError, GetTimeoutError) as exc:
            self.supervisor.mark_down(group_id, f"restarting ({type(exc).__name__})")
            return
        except RayError as exc:  # the group's own call failed (e.g. a camera could not open): retried
            if self.supervisor.groups[group_id].down_reason != "failed":
                log.error("group %s: %s", group_id, exc)
            self.supervisor.mark_down(group_id, "failed")
            return
        self.supervisor.absorb(report)
        if not report.started:
            self.supervisor.mark_down(group_id, "starting")
            slot.start_ref = slot.actor.start.remote(self.supervisor.checkpoints(group_id), mode)

    # --- the Engine interface -----------------------------------------------------------------

    def _nodes(self) -> list[dict[str, Any]]:
        try:
            return live_nodes()
        except RayError:
            return []

    def health(self) -> dict[str, StreamHealth]:
        return self.supervisor.health()

    def detector_stats(self) -> dict[str, dict[str, int]]:
        return self.supervisor.detector_stats()

    def pipeline_status(self) -> dict[str, dict[str, Any]]:
        return self.supervisor.pipeline_status()

    def latest_frame(self, camera_id: str) -> Frame | None:
        """Asked of the camera's group when the console wants it (never pushed per frame)."""
        group_id = self.supervisor.group_of.get(camera_id)
        if group_id is None or not self.supervisor.groups[group_id].up:
            return None
        try:
            frame: Frame | None = ray.get(self.slots[group_id].actor.latest_frame.remote(camera_id), timeout=2)
        except RayError:
            return None
        return frame

    def placement(self) -> dict[str, dict[str, Any]]:
        return self.supervisor.placement()

    def cluster(self) -> dict[str, Any]:
        return self.supervisor.cluster()
