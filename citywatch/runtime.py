"""The runtime: one worker per camera runs stream -> detect -> track -> rules -> events.

`CameraPipeline` is the per-camera state (tracker, rule evaluators, pending evidence) as a plain
object with no globals, so it can live in a worker process or a Ray actor of its own; its
`process(frame, detections)` is deterministic. `Runtime` wires readers, the shared batching
detector and the event sink together with one thread per camera; a camera's failure never stops
another.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import supervision as sv

from citywatch.config import CameraConfig, CitywatchConfig
from citywatch.events import EventEnd, EventRecord, EventSink
from citywatch.modes import CameraPlan, ModeHolder
from vision.detect import Detector, DetectorSet
from vision.evidence import annotate, encode_jpeg
from vision.frames import Frame
from vision.motion import MotionGate
from vision.rules import StayUpdate, build_rules
from vision.schedule import schedule_active, wall_time
from vision.streams import ERROR, StreamHealth, StreamReader
from vision.track import CameraTracker

log = logging.getLogger(__name__)

#: Automatic verification: how long a zone must stay clear, and how often it is checked (stream s).
VERIFY_WINDOW_S = 60.0
VERIFY_EVERY_S = 10.0

Output = EventRecord | EventEnd


class CameraPipeline:
    """Per-camera analysis state: tracker + rules + evidence of live stays.

    Which rules run is decided per analysed frame: a rule is active when the current mode (from
    the runtime's `ModeHolder`, consulted every frame, so a switch applies from the next analysed
    frame on) includes it and its schedule covers the frame's wall time (`vision.schedule`). A
    rule that goes idle ends its live stays (their events get their end) and starts afresh when it
    becomes active again. Evidence: entry, middle (at half the rule's minimum time) and trigger.

    Example:
        >>> pipeline = CameraPipeline(camera)  # doctest: +SKIP
        >>> outputs = pipeline.process(frame, detections)  # EventRecord / EventEnd  # doctest: +SKIP
    """

    def __init__(self, camera: CameraConfig, max_pending_evidence: int = 256, *,
                 config: CitywatchConfig | None = None, modes: ModeHolder | None = None):
        self.camera = camera
        self.config = config
        self.modes = modes
        self.timezone = config.timezone if config is not None else "Asia/Shanghai"
        self.rules = build_rules(camera.rules, camera.zones)
        self.labels = frozenset().union(*(rule.needs for rule in self.rules)) if self.rules else frozenset()
        grace = max((rule.grace_s for rule in self.rules), default=10.0)
        self.tracker = CameraTracker(camera.analysis_fps, lost_s=max(2.0, grace))
        self.max_pending_evidence = max_pending_evidence
        self._entry_jpeg: dict[tuple[str, int], bytes] = {}
        self._middle_jpeg: dict[tuple[str, int], bytes] = {}
        self._event_uid: dict[tuple[str, int], str] = {}
        self.last_stream_s = 0.0
        self._mode_version = -1
        #: (rule type, zone id) -> stream time since which the zone has had no live stay of that rule.
        self._clear_from: dict[tuple[str, str], float] = {}
        #: (stream_s, plan) at every re-plan (mode switch), oldest first.
        self.plan_log: list[tuple[float, CameraPlan]] = []
        self.plan = CameraPlan("normal", frozenset(rule.id for rule in self.rules), camera.analysis_fps, 0)
        self._active: set[str] = set(self.plan.active_rules)
        self._sync_mode()

    # What the runtime reads: rate, detector priority and labels of the current plan.
    @property
    def analysis_fps(self) -> float:
        return self.plan.analysis_fps

    @property
    def priority(self) -> int:
        return self.plan.priority

    @property
    def active_rule_ids(self) -> list[str]:
        """Rules running now (in the mode and inside their schedule)."""
        return [rule.id for rule in self.rules if rule.id in self._active]

    @property
    def needed_labels(self) -> frozenset[str]:
        """Detector labels the active rules need (a DetectorSet runs only the models producing them)."""
        active = [rule for rule in self.rules if rule.id in self._active]
        return frozenset().union(*(rule.needs for rule in active)) if active else frozenset()

    def status(self, history: int = 120) -> dict[str, Any]:
        """JSON-ready rule status of this camera: mode, rate, priority, active rules and, for
        waterlogging rules, the recent wet fraction per zone as [stream_s, fraction] pairs."""
        levels: dict[str, dict[str, list[list[float]]]] = {}
        for rule in self.rules:
            samples = list(getattr(rule, "history", ()))[-history:]
            if samples:
                per_zone: dict[str, list[list[float]]] = {}
                for t, zone_id, fraction in samples:
                    per_zone.setdefault(zone_id, []).append([round(t, 3), round(fraction, 4)])
                levels[rule.id] = per_zone
        return {"mode": self.plan.mode, "analysis_fps": self.analysis_fps,
                "priority": "high" if self.priority else "normal", "active_rules": self.active_rule_ids,
                "idle_rules": [rule.id for rule in self.rules if rule.id not in self._active], "levels": levels}

    def _sync_mode(self) -> None:
        if self.modes is None:
            return
        _, version = self.modes.current()
        if version != self._mode_version:
            self._mode_version = version
            self.plan = self.modes.plan(self.camera)
            self.plan_log.append((self.last_stream_s, self.plan))

    def process(self, frame: Frame, detections: sv.Detections) -> list[Output]:
        """Advance tracking and every active rule by one analysed frame."""
        self.last_stream_s = frame.stream_s
        self._sync_mode()
        camera = self.camera
        wall = wall_time(frame.stream_s, frame.wall_s, self.timezone, camera.start_time, camera.is_file)
        outputs: list[Output] = []
        active: set[str] = set()
        for rule in self.rules:
            if rule.id in self.plan.active_rules and schedule_active(rule.config.schedule, wall):
                active.add(rule.id)
            elif rule.id in self._active:  # went idle: end its stays
                outputs.extend(self._finish_rule(rule, frame.stream_s))
        self._active = active
        labels = self.needed_labels
        if len(detections) and "label" in detections.data:
            keep = [str(label) in labels for label in detections.data["label"]]
            detections = detections[keep]
        objects = self.tracker.update(detections, frame.stream_s)
        for rule in self.rules:
            if rule.id not in active:
                continue
            for update in rule.evaluate(objects, frame.stream_s, frame.width, frame.height, frame.image):
                output = self._handle(rule.id, rule.type, rule.zones, update, frame, wall.timestamp())
                if output is not None:
                    outputs.append(output)
            self._middle_evidence(rule, frame)
        return outputs

    def clear_zones(self, now_s: float, window_s: float) -> list[tuple[str, str]]:
        """(zone id, rule type) of every active rule's zone that has held none of the rule's
        objects for at least `window_s` stream seconds up to `now_s`: the evidence behind
        automatic verification (核查) of handled cases. Deterministic, no I/O."""
        clear = []
        for rule in self.rules:
            if rule.id not in self._active:
                continue
            occupied = {stay.zone_id for stay in rule.live_stays()}
            for zone in rule.zones:
                key = (rule.type, zone.id)
                if zone.id in occupied:
                    self._clear_from.pop(key, None)
                    continue
                since = self._clear_from.setdefault(key, now_s)
                if now_s - since >= window_s:
                    clear.append((zone.id, rule.type))
        return sorted(set(clear))

    def finish(self) -> list[Output]:
        """The source ended: close every live stay."""
        outputs: list[Output] = []
        for rule in self.rules:
            outputs.extend(self._finish_rule(rule, self.last_stream_s))
        return outputs

    def _finish_rule(self, rule: Any, now_s: float) -> list[Output]:
        outputs: list[Output] = []
        for update in rule.finish(now_s):
            output = self._handle(rule.id, rule.type, rule.zones, update, None, 0.0)
            if output is not None:
                outputs.append(output)
        return outputs

    def _middle_evidence(self, rule: Any, frame: Frame) -> None:
        for stay in rule.live_stays():
            key = (rule.id, stay.stay_id)
            due = stay.triggered_s is None and stay.last_seen_s == frame.stream_s and key not in self._middle_jpeg
            if due and stay.dwell_s >= rule.middle_after_s and len(self._middle_jpeg) < self.max_pending_evidence:
                caption = f"{stay.label} {rule.type}"
                self._middle_jpeg[key] = encode_jpeg(annotate(frame.image, rule.zones, stay.xyxy, caption))

    def _handle(self, rule_id: str, rule_type: str, zones: list, update: StayUpdate, frame: Frame | None,
                wall_s: float) -> Output | None:
        stay, key = update.stay, (rule_id, update.stay.stay_id)
        caption = f"{stay.label} {rule_type}"
        if update.kind == "started" and frame is not None:
            if len(self._entry_jpeg) < self.max_pending_evidence:
                self._entry_jpeg[key] = encode_jpeg(annotate(frame.image, zones, stay.xyxy, caption))
            return None
        if update.kind == "triggered" and frame is not None:
            uid = str(uuid.uuid4())
            self._event_uid[key] = uid
            images = {"trigger": encode_jpeg(annotate(frame.image, zones, stay.xyxy, caption))}
            entry = self._entry_jpeg.pop(key, None)
            if entry is not None:
                images["entry"] = entry
            middle = self._middle_jpeg.pop(key, None)
            if middle is not None:
                images["middle"] = middle
            return EventRecord(
                uid=uid, type=rule_type, camera_id=self.camera.id, rule_id=rule_id, zone_id=stay.zone_id,
                label=stay.label, track_id=stay.track_id, first_seen_s=stay.first_seen_s,
                triggered_s=update.at_s, score=stay.score, box=stay.xyxy,
                occurred_wall_s=wall_s or frame.wall_s,
                images=images,
            )
        if update.kind == "ended":
            self._entry_jpeg.pop(key, None)
            self._middle_jpeg.pop(key, None)
            uid = self._event_uid.pop(key, None)
            if uid is not None:
                return EventEnd(uid, self.camera.id, stay.last_seen_s, stay.last_seen_s - stay.first_seen_s)
        return None


def retune(sampler: Any, fps: float, stream_s: float) -> None:
    """Change a reader's sampling rate in place, continuing the grid from `stream_s`."""
    if abs(sampler.fps - fps) < 1e-9:
        return
    sampler.fps = fps
    sampler._last_bucket = math.floor(stream_s * fps + 1e-6)


@dataclass
class CameraWorker:
    """The threads and state of one running camera."""

    camera: CameraConfig
    reader: StreamReader
    pipeline: CameraPipeline
    thread: threading.Thread | None = None
    events: int = 0
    detections_run: int = 0
    detections_skipped: int = 0
    last_frame: Frame | None = None  # the last analysed frame (console thumbnail)
    gate: MotionGate | None = None
    last_verify_s: float = float("-inf")
    last_detections: sv.Detections | None = None  # reused on frames the motion gate skips


class Runtime:
    """Runs every enabled camera of a config against one detector and one event sink."""

    def __init__(
        self,
        config: CitywatchConfig,
        detector: Detector | DetectorSet,
        sink: EventSink,
        *,
        speed: str | float | None = None,
        loop: bool | None = None,
        modes: ModeHolder | None = None,
    ):
        self.config = config
        self.sink = sink
        #: The current operating mode, consulted by every camera's pipeline each analysed frame.
        self.modes = modes if modes is not None else ModeHolder(config, getattr(sink, "database", None))
        #: Every model behind its own batching queue; a camera runs only those its active rules need.
        self.detector = detector if isinstance(detector, DetectorSet) else DetectorSet(
            {detector.name: detector}, max_batch=config.detector.batch_size,
            max_wait_s=config.detector.batch_wait_ms / 1000,
        )
        self.workers: dict[str, CameraWorker] = {}
        for camera in config.cameras:
            if camera.enabled:
                reader = StreamReader(camera, speed=speed, loop=loop)
                pipeline = CameraPipeline(camera, config=config, modes=self.modes)
                reader.sampler.fps = pipeline.analysis_fps  # the mode's rate from the first frame
                gate = MotionGate.from_config(config.detector)
                self.workers[camera.id] = CameraWorker(camera, reader, pipeline, gate=gate)
        self.errors: list[str] = []

    def start(self) -> None:
        for worker in self.workers.values():
            worker.thread = threading.Thread(target=self._run_camera, args=(worker,), name=f"camera-{worker.camera.id}",
                                             daemon=True)
            worker.thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for every camera to finish (file sources end); True when all did."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for worker in self.workers.values():
            if worker.thread is not None:
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                worker.thread.join(remaining)
        return all(w.thread is None or not w.thread.is_alive() for w in self.workers.values())

    def stop(self) -> None:
        for worker in self.workers.values():
            worker.reader.stop()
        self.wait(timeout=15)
        self.detector.close()

    def health(self) -> dict[str, StreamHealth]:
        return {camera_id: worker.reader.health for camera_id, worker in self.workers.items()}

    def pipeline_status(self) -> dict[str, dict[str, Any]]:
        """Per camera: the mode plan it runs and rule levels (e.g. the wet fraction per zone)."""
        return {camera_id: worker.pipeline.status() for camera_id, worker in self.workers.items()}

    def detector_stats(self) -> dict[str, dict[str, int]]:
        """Per camera: frames sent to the detector (`run`) and frames the motion gate skipped."""
        return {
            camera_id: {"run": worker.detections_run, "skipped": worker.detections_skipped}
            for camera_id, worker in self.workers.items()
        }

    def _run_camera(self, worker: CameraWorker) -> None:
        try:
            if worker.camera.is_file:
                limit = worker.camera.replay.max_stream_s
                for frame in worker.reader.frames():
                    if limit is not None and frame.stream_s > limit:
                        break
                    self._analyse(worker, frame)
            else:
                self._run_live(worker)
            for output in worker.pipeline.finish():
                self._emit(output)
        except Exception as exc:  # one camera's failure must never stop the others
            log.exception("camera %s stopped", worker.camera.id)
            worker.reader.health.state = ERROR
            worker.reader.health.last_error = f"{type(exc).__name__}: {exc}"
            self.errors.append(f"{worker.camera.id}: {exc}")

    def _run_live(self, worker: CameraWorker) -> None:
        """A live camera: the reader thread keeps only the newest frame; analysis takes it when ready."""
        slot = worker.reader.start()
        while True:
            frame = slot.get(timeout=1.0)
            if frame is not None:
                self._analyse(worker, frame)
            elif slot.closed or worker.reader.stopped:
                break
        worker.reader.join(timeout=5)

    def _analyse(self, worker: CameraWorker, frame: Frame) -> None:
        decision = worker.gate.decide(frame.image, frame.stream_s, worker.camera.zones) if worker.gate else None
        if decision is None or decision.run or worker.last_detections is None:
            priority = worker.pipeline.priority
            worker.last_detections = self.detector.detect(
                worker.camera.id, frame.image, labels=worker.pipeline.needed_labels, priority=priority
            )
            worker.detections_run += 1
        else:  # nothing moved in any zone: the last detections still hold, so tracks and timers go on
            worker.detections_skipped += 1
        detections = worker.last_detections
        worker.last_frame = frame
        worker.reader.health.mark(analysed=1)
        for output in worker.pipeline.process(frame, detections):
            self._emit(output)
        self._verify_clear_zones(worker, frame)
        retune(worker.reader.sampler, worker.pipeline.analysis_fps, frame.stream_s)  # a mode may change it

    def _verify_clear_zones(self, worker: CameraWorker, frame: Frame) -> None:
        """Every `VERIFY_EVERY_S` of stream time, tell the ledger which zones have stayed clear for
        `VERIFY_WINDOW_S`, so cases handled before that window become verified (核查)."""
        if frame.stream_s - worker.last_verify_s < VERIFY_EVERY_S:
            return
        worker.last_verify_s = frame.stream_s
        clear_since = datetime.fromtimestamp(frame.wall_s - VERIFY_WINDOW_S, UTC)
        for zone_id, rule_type in worker.pipeline.clear_zones(frame.stream_s, VERIFY_WINDOW_S):
            verified = self.sink.zone_clear(worker.camera.id, zone_id, rule_type, clear_since)
            if verified:
                log.info("camera %s zone %s clear: verified case(s) %s", worker.camera.id, zone_id, verified)

    def _emit(self, output: Output) -> None:
        if isinstance(output, EventRecord):
            self.sink.record(output)
            self.workers[output.camera_id].events += 1
        else:
            self.sink.end(output)


def run_replay(config: CitywatchConfig, detector: Detector | DetectorSet, sink: EventSink,
               on_event: Callable[[dict[str, Any]], None] | None = None,
               speed: str | float = "fast") -> Runtime:
    """Run every camera's source once and return the finished runtime. A camera loops only when its
    `replay.loop` is set together with a `replay.max_stream_s` bound."""
    if on_event is not None:
        sink.listeners.append(on_event)
    cameras = [
        c if c.replay.max_stream_s is not None or not c.replay.loop
        else c.model_copy(update={"replay": c.replay.model_copy(update={"loop": False})})
        for c in config.cameras
    ]
    config = config.model_copy(update={"cameras": cameras})
    runtime = Runtime(config, detector, sink, speed=speed, loop=None)
    runtime.start()
    runtime.wait()
    runtime.detector.close()
    return runtime
