"""The runtime: hosts the camera pipelines of a config.

Each `CameraWorker` runs stream -> (motion gate) -> detect -> `CameraPipeline` -> event sink for
one camera: a live camera has one reader thread feeding a latest-frame slot (a slow analysis drops
stale frames, never queues them), served by a small `AnalysisPool` shared by every live camera
(sized by `analysis_threads`); a file camera runs in one thread of its own at its replay speed.
Every camera shares one `DetectorSet` (its batching queues), one `EventSink`, one
`LatenessMonitor` (so a late read is not called a stall) and two `Gate`s: at most
`CONNECT_LIMIT` cameras opening at once, at most `decode_limit()` decoding a sampled keyframe at
once; a camera's failure never stops another. `run_replay` runs every source once, for
`citywatch replay` and `citywatch eval`.
"""

from __future__ import annotations

import logging
import os
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
from vision.streams.pool import AnalysisPool
from vision.streams.stall import Gate, LatenessMonitor

log = logging.getLogger(__name__)

#: Automatic verification: how long a zone must stay clear, and how often it is checked (stream s).
VERIFY_WINDOW_S = 60.0
VERIFY_EVERY_S = 10.0
#: Cameras that may be opening their source at once (start-up, or a server coming back).
CONNECT_LIMIT = 24


def decode_limit(cores: int | None = None) -> int:
    """Cameras that may decode and convert a sampled keyframe at once: one per core. Cameras whose
    streams are in step (one server, or one encoder clock) deliver keyframes in the same instant;
    without a limit hundreds of decoding threads become runnable together and starve the rest of
    the process (the API waited up to half a second behind them on two cores)."""
    return max(1, cores or os.cpu_count() or 1)


def analysis_threads(live_cameras: int, cores: int | None = None) -> int:
    """Threads of the analysis pool for this many live cameras: one per core, at least 2 (one
    may wait on the detector while the other works), at most 8, never more than the cameras.
    More threads only add contenders for the GIL: the API's requests then wait behind them."""
    cores = cores or os.cpu_count() or 1
    return max(1, min(live_cameras, max(2, cores), 8))


@dataclass
class CameraWorker:
    """The thread (file sources; live ones run in the reader's thread and the pool) and the state
    of one running camera."""

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
        #: The process's own scheduling lateness and the open and decode limits, shared by every reader.
        self.lateness = LatenessMonitor()
        self.connect_gate = Gate(CONNECT_LIMIT)
        self.decode_gate = Gate(decode_limit())
        live = sum(1 for camera in config.cameras if camera.enabled and not camera.is_file)
        self.pool = AnalysisPool(analysis_threads(live))
        for camera in config.cameras:
            if camera.enabled:
                reader = StreamReader(
                    camera,
                    speed=speed,
                    loop=loop,
                    lateness=self.lateness,
                    connect_gate=self.connect_gate,
                    decode_gate=self.decode_gate,
                )
                pipeline = CameraPipeline(camera, config=config, modes=self.modes)
                reader.sampler.retune(pipeline.analysis_fps)  # the mode's rate from the first frame
                gate = MotionGate.from_config(config.detector)
                self.workers[camera.id] = CameraWorker(camera, reader, pipeline, gate=gate)
        #: One lock per camera, held while it analyses a frame, so a checkpoint of its state (the
        #: cluster's group host) is taken between two frames.
        self.analysis_locks = {camera_id: threading.Lock() for camera_id in self.workers}
        self.errors: list[str] = []

    def start(self) -> None:
        live = [worker for worker in self.workers.values() if not worker.camera.is_file]
        if live:
            self.lateness.start()
            self.pool.start()
        for worker in self.workers.values():
            if worker.camera.is_file:
                worker.thread = threading.Thread(
                    target=self._run_camera, args=(worker,), name=f"camera-{worker.camera.id}", daemon=True
                )
                worker.thread.start()
            else:
                self._start_live(worker)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for every camera to finish (file sources end, live ones once stopped); True when all did."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for worker in self.workers.values():
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if worker.thread is not None:
                worker.thread.join(remaining)
            elif not worker.camera.is_file:
                worker.reader.join(remaining)
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        return self.pool.wait_done(remaining) and all(
            w.thread is None or not w.thread.is_alive() for w in self.workers.values()
        )

    def stop(self) -> None:
        for worker in self.workers.values():
            worker.reader.stop()
        self.wait(timeout=15)
        self.pool.close(timeout=5)
        self.lateness.stop()
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
            limit = worker.camera.replay.max_stream_s
            for frame in worker.reader.frames():
                if limit is not None and frame.stream_s > limit:
                    break
                self._analyse(worker, frame)
            for output in worker.pipeline.finish():
                self._emit(output)
        except Exception as exc:  # one camera's failure must never stop the others
            log.exception("camera %s stopped", worker.camera.id)
            worker.reader.health.set_state(StreamState.ERROR, f"{type(exc).__name__}: {exc}")
            self.errors.append(f"{worker.camera.id}: {exc}")

    def _start_live(self, worker: CameraWorker) -> None:
        """A live camera: its reader thread keeps only the newest frame; the pool analyses it when
        a thread is free, and finishes the camera's stays once the reader has ended."""

        def finish() -> None:
            for output in worker.pipeline.finish():
                self._emit(output)

        def failed(exc: Exception) -> None:
            log.error("camera %s stopped", worker.camera.id, exc_info=exc)
            worker.reader.stop()
            worker.reader.health.set_state(StreamState.ERROR, f"{type(exc).__name__}: {exc}")
            self.errors.append(f"{worker.camera.id}: {exc}")

        self.pool.serve(worker.reader.start(), lambda frame: self._analyse(worker, frame), finish, failed)

    def _analyse(self, worker: CameraWorker, frame: Frame) -> None:
        with self.analysis_locks[worker.camera.id]:
            self._analyse_frame(worker, frame)

    def _analyse_frame(self, worker: CameraWorker, frame: Frame) -> None:
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
