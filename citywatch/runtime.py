"""The runtime: hosts the camera pipelines of a config, one worker thread per camera.

Each `CameraWorker` runs stream -> (motion gate) -> detect -> `CameraPipeline` -> event sink for
one camera: live cameras through a latest-frame slot (a slow analysis drops stale frames, never
queues them), files at their replay speed. Every camera shares one `DetectorSet` (its batching
queues) and one `EventSink`; a camera's failure never stops another. `run_replay` runs every
source once, for `citywatch replay` and `citywatch eval`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import supervision as sv

from citywatch.config import CameraConfig, CitywatchConfig
from citywatch.events import EventRecord, Output
from citywatch.modes import ModeHolder
from citywatch.pipeline import CameraPipeline
from citywatch.sink import EventSink
from vision.detect import Detector, DetectorSet
from vision.frames import Frame
from vision.motion import MotionGate
from vision.streams import StreamHealth, StreamReader, StreamState

log = logging.getLogger(__name__)

#: Automatic verification: how long a zone must stay clear, and how often it is checked (stream s).
VERIFY_WINDOW_S = 60.0
VERIFY_EVERY_S = 10.0


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
        self.modes = modes if modes is not None else ModeHolder(config, sink.database)
        #: Every model behind its own batching queue; a camera runs only those its active rules need.
        self.detector = (
            detector
            if isinstance(detector, DetectorSet)
            else DetectorSet(
                {detector.name: detector},
                max_batch=config.detector.batch_size,
                max_wait_s=config.detector.batch_wait_ms / 1000,
            )
        )
        self.workers: dict[str, CameraWorker] = {}
        for camera in config.cameras:
            if camera.enabled:
                reader = StreamReader(camera, speed=speed, loop=loop)
                pipeline = CameraPipeline(camera, config=config, modes=self.modes)
                reader.sampler.retune(pipeline.analysis_fps)  # the mode's rate from the first frame
                gate = MotionGate.from_config(config.detector)
                self.workers[camera.id] = CameraWorker(camera, reader, pipeline, gate=gate)
        self.errors: list[str] = []

    def start(self) -> None:
        for worker in self.workers.values():
            worker.thread = threading.Thread(
                target=self._run_camera, args=(worker,), name=f"camera-{worker.camera.id}", daemon=True
            )
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

    def latest_frame(self, camera_id: str) -> Frame | None:
        """The last frame analysed on a camera (None before the first, or for an unknown camera)."""
        worker = self.workers.get(camera_id)
        return worker.last_frame if worker is not None else None

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
            worker.reader.health.set_state(StreamState.ERROR, f"{type(exc).__name__}: {exc}")
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
        worker.reader.sampler.retune(worker.pipeline.analysis_fps, frame.stream_s)  # a mode may change it

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


def run_replay(
    config: CitywatchConfig,
    detector: Detector | DetectorSet,
    sink: EventSink,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    speed: str | float = "fast",
) -> Runtime:
    """Run every camera's source once and return the finished runtime. A camera loops only when its
    `replay.loop` is set together with a `replay.max_stream_s` bound."""
    if on_event is not None:
        sink.listeners.append(on_event)
    cameras = [
        c
        if c.replay.max_stream_s is not None or not c.replay.loop
        else c.model_copy(update={"replay": c.replay.model_copy(update={"loop": False})})
        for c in config.cameras
    ]
    config = config.model_copy(update={"cameras": cameras})
    runtime = Runtime(config, detector, sink, speed=speed, loop=None)
    runtime.start()
    runtime.wait()
    runtime.detector.close()
    return runtime
