"""The runtime: one worker per camera runs stream -> detect -> track -> rules -> events.

`CameraPipeline` is the per-camera state (tracker, rule evaluators, pending evidence) as a plain
object with no globals, so it can live in a worker process or a Ray actor of its own; its
`process(frame, detections)` is deterministic. `Runtime` wires readers, the shared batching
detector and the event sink together with one thread per camera; a camera's failure never stops
another.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import supervision as sv

from citywatch.config import CameraConfig, CitywatchConfig
from citywatch.events import EventEnd, EventRecord, EventSink
from vision.detect import BatchingDetector, Detector
from vision.evidence import annotate, encode_jpeg
from vision.frames import Frame
from vision.rules import StayUpdate, build_rules
from vision.streams import ERROR, LatestFrameSlot, StreamHealth, StreamReader
from vision.track import CameraTracker

log = logging.getLogger(__name__)

Output = EventRecord | EventEnd


class CameraPipeline:
    """Per-camera analysis state: tracker + rules + evidence of live stays.

    Example:
        >>> pipeline = CameraPipeline(camera)  # doctest: +SKIP
        >>> outputs = pipeline.process(frame, detections)  # EventRecord / EventEnd  # doctest: +SKIP
    """

    def __init__(self, camera: CameraConfig, max_pending_evidence: int = 256):
        self.camera = camera
        self.rules = build_rules(camera.rules, camera.zones)
        self.labels = frozenset().union(*(rule.labels for rule in self.rules)) if self.rules else frozenset()
        grace = max((rule.params.grace_s for rule in self.rules), default=10.0)
        self.tracker = CameraTracker(camera.analysis_fps, lost_s=max(2.0, grace))
        self.max_pending_evidence = max_pending_evidence
        self._entry_jpeg: dict[tuple[str, int], bytes] = {}
        self._event_uid: dict[tuple[str, int], str] = {}
        self.last_stream_s = 0.0

    def process(self, frame: Frame, detections: sv.Detections) -> list[Output]:
        """Advance tracking and every rule by one analysed frame."""
        self.last_stream_s = frame.stream_s
        if len(detections) and "label" in detections.data:
            keep = [str(label) in self.labels for label in detections.data["label"]]
            detections = detections[keep]
        objects = self.tracker.update(detections, frame.stream_s)
        outputs: list[Output] = []
        for rule in self.rules:
            for update in rule.evaluate(objects, frame.stream_s, frame.width, frame.height):
                output = self._handle(rule.id, rule.type, rule.zones, update, frame)
                if output is not None:
                    outputs.append(output)
        return outputs

    def finish(self) -> list[Output]:
        """The source ended: close every live stay."""
        outputs: list[Output] = []
        for rule in self.rules:
            for update in rule.finish(self.last_stream_s):
                output = self._handle(rule.id, rule.type, rule.zones, update, None)
                if output is not None:
                    outputs.append(output)
        return outputs

    def _handle(self, rule_id: str, rule_type: str, zones: list, update: StayUpdate, frame: Frame | None) -> Output | None:
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
            return EventRecord(
                uid=uid, type=rule_type, camera_id=self.camera.id, rule_id=rule_id, zone_id=stay.zone_id,
                label=stay.label, track_id=stay.track_id, first_seen_s=stay.first_seen_s,
                triggered_s=update.at_s, score=stay.score, box=stay.xyxy, occurred_wall_s=frame.wall_s,
                images=images,
            )
        if update.kind == "ended":
            self._entry_jpeg.pop(key, None)
            uid = self._event_uid.pop(key, None)
            if uid is not None:
                return EventEnd(uid, self.camera.id, stay.last_seen_s, stay.last_seen_s - stay.first_seen_s)
        return None


@dataclass
class CameraWorker:
    """The threads and state of one running camera."""

    camera: CameraConfig
    reader: StreamReader
    pipeline: CameraPipeline
    thread: threading.Thread | None = None
    events: int = 0
    detections_run: int = 0
    last_frame: Frame | None = None  # the last analysed frame (console thumbnail)


class Runtime:
    """Runs every enabled camera of a config against one detector and one event sink."""

    def __init__(
        self,
        config: CitywatchConfig,
        detector: Detector,
        sink: EventSink,
        *,
        speed: str | float | None = None,
        loop: bool | None = None,
    ):
        self.config = config
        self.sink = sink
        self.detector = BatchingDetector(
            detector, max_batch=config.detector.batch_size, max_wait_s=config.detector.batch_wait_ms / 1000
        )
        self.workers: dict[str, CameraWorker] = {}
        for camera in config.cameras:
            if camera.enabled:
                reader = StreamReader(camera, speed=speed, loop=loop)
                self.workers[camera.id] = CameraWorker(camera, reader, CameraPipeline(camera))
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

    def _run_camera(self, worker: CameraWorker) -> None:
        try:
            if worker.camera.is_file:
                for frame in worker.reader.frames():
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
        slot = LatestFrameSlot()

        def read() -> None:
            for frame in worker.reader.frames():
                slot.put(frame)
            slot.close()

        reader_thread = threading.Thread(target=read, name=f"reader-{worker.camera.id}", daemon=True)
        reader_thread.start()
        while not (slot.closed and reader_thread is not None and not reader_thread.is_alive()):
            frame = slot.get(timeout=1.0)
            worker.reader.health.frames_dropped = slot.dropped
            if frame is not None:
                self._analyse(worker, frame)
            elif worker.reader.stopped:
                break

    def _analyse(self, worker: CameraWorker, frame: Frame) -> None:
        detections = self.detector.detect(worker.camera.id, frame.image)
        worker.detections_run += 1
        worker.last_frame = frame
        worker.reader.health.mark(analysed=1)
        for output in worker.pipeline.process(frame, detections):
            self._emit(output)

    def _emit(self, output: Output) -> None:
        if isinstance(output, EventRecord):
            self.sink.record(output)
            self.workers[output.camera_id].events += 1
        else:
            self.sink.end(output)


def run_replay(config: CitywatchConfig, detector: Detector, sink: EventSink,
               on_event: Callable[[dict[str, Any]], None] | None = None,
               speed: str | float = "fast") -> Runtime:
    """Run every camera's source once (no looping) and return the finished runtime."""
    if on_event is not None:
        sink.listeners.append(on_event)
    runtime = Runtime(config, detector, sink, speed=speed, loop=False)
    runtime.start()
    runtime.wait()
    runtime.detector.close()
    return runtime
