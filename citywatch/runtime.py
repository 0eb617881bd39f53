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
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import supervision as sv

from citywatch.budget import DEFERRED_FRAMES_BYTES, ByteBudget
from citywatch.camera_worker import CameraWorker, analysis_threads, decode_limit
from citywatch.config import CitywatchConfig
from citywatch.detectors import load_plate_reader, wants_plates
from citywatch.events import EventRecord, Output
from citywatch.modes import ModeHolder
from citywatch.pipeline import CameraPipeline
from citywatch.recordings.index import SegmentIndexer
from citywatch.sink import EventSink
from vision.detect import Detector, DetectorSet
from vision.detect.detector_set import merge_detections
from vision.frames import Frame
from vision.motion import MotionGate, same_objects
from vision.plates.reader import PlateReader
from vision.plates.watch import PlateWatch
from vision.record.live import LiveHub
from vision.record.ring import RING_SLACK_S, PacketRing
from vision.record.segments import SegmentRecorder
from vision.record.taps import chain_taps
from vision.streams import StreamHealth, StreamReader, StreamState
from vision.streams.pool import AnalysisPool
from vision.streams.prefetch import prefetched
from vision.streams.stall import Gate, LatenessMonitor

log = logging.getLogger(__name__)

#: Automatic verification: how long a zone must stay clear, and how often it is checked (stream s).
VERIFY_WINDOW_S = 60.0
VERIFY_EVERY_S = 10.0
#: Cameras that may be opening their source at once (start-up, or a server coming back).
CONNECT_LIMIT = 24
#: Frames a file camera replayed `fast` decodes ahead of its analysis (decode and detection overlap;
#: bounded). A paced replay reads in step with the analysis, so a mode switch retunes its sampler at
#: once instead of after the frames already read ahead at the old rate.
PREFETCH_FRAMES = 4
#: The detections of a frame no active rule needs detected.
EMPTY_DETECTIONS = merge_detections(())


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
        plate_reader: PlateReader | None = None,
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
                workers=config.detector.workers(),
            )
        )
        self.workers: dict[str, CameraWorker] = {}
        #: Each camera's live view for browsers (remuxed only while watched; `api.routes.live_video`).
        self.live = LiveHub(max_viewers=config.api.live_viewers, max_per_camera=config.api.live_viewers_per_camera)
        #: The process's own scheduling lateness and the open and decode limits, shared by every reader.
        self.lateness = LatenessMonitor()
        self.connect_gate = Gate(CONNECT_LIMIT)
        self.decode_gate = Gate(decode_limit())
        #: Memory of the frames all cameras hold for deferred detection, together.
        self.held_budget = ByteBudget(DEFERRED_FRAMES_BYTES)
        live = sum(1 for camera in config.cameras if camera.enabled and not camera.is_file)
        self.pool = AnalysisPool(analysis_threads(live))
        # continuous segments are indexed by this process when it holds the database (else by retention)
        indexer = SegmentIndexer(sink.database) if getattr(sink, "database", None) is not None else None
        #: One plate reader for every camera with a `plates: true` rule (onnxruntime runs are thread-safe).
        self.plate_reader = plate_reader or (load_plate_reader(config) if wants_plates(config) else None)
        for camera in config.cameras:
            if camera.enabled:
                # event clips need a recordings directory: the local sink's, or a camera group's
                clips = camera.record.clips and getattr(sink, "recordings_dir", None) is not None
                window_s = camera.record.pre_s + RING_SLACK_S
                ring = PacketRing(camera.id, window_s=window_s, on_clip=sink.clips.submit) if clips else None
                recordings_dir = getattr(sink, "recordings_dir", None)
                recorder = SegmentRecorder.for_camera(camera, recordings_dir, indexer, config.timezone)
                reader = StreamReader(
                    camera,
                    speed=speed,
                    loop=loop,
                    lateness=self.lateness,
                    connect_gate=self.connect_gate,
                    decode_gate=self.decode_gate,
                    packet_tap=chain_taps(
                        [
                            ring.tap if ring else None,
                            recorder.tap if recorder else None,
                            self.live.camera(camera.id).tap,
                        ]
                    ),
                )
                plates = None if self.plate_reader is None else PlateWatch(self.plate_reader, **config.plates.watch())
                pipeline = CameraPipeline(camera, config=config, modes=self.modes, plates=plates)
                reader.sampler.retune(pipeline.analysis_fps)  # the mode's rate from the first frame
                gate = MotionGate.from_config(config.detector)
                worker = CameraWorker(camera, reader, pipeline, gate=gate, ring=ring, recorder=recorder)
                self.workers[camera.id] = worker
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
        self.close_recorders()

    def close_recorders(self) -> None:
        """Finish every camera's open continuous-recording segment and stop its writer."""
        for worker in self.workers.values():
            if worker.recorder is not None:
                worker.recorder.close()

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
        """Per camera: frames sent to the detector (`run`), frames the scheduling skipped
        (`skipped`), and the gate's decisions by reason (`reason_motion`, `reason_still`, ...)."""
        stats: dict[str, dict[str, int]] = {}
        for camera_id, worker in self.workers.items():
            counts = {"run": worker.detections_run, "skipped": worker.detections_skipped}
            if worker.gate is not None:
                counts.update({f"reason_{reason}": n for reason, n in sorted(worker.gate.reasons.items())})
            stats[camera_id] = counts
        return stats

    def _run_camera(self, worker: CameraWorker) -> None:
        try:
            limit = worker.camera.replay.max_stream_s
            frames = worker.reader.frames()
            if worker.reader.speed == "fast":  # unpaced: decode the next frames while this one is analysed
                frames = prefetched(frames, PREFETCH_FRAMES)
            for frame in frames:
                if limit is not None and frame.stream_s > limit:
                    break
                self._analyse(worker, frame)
            self._finish(worker)
        except Exception as exc:  # one camera's failure must never stop the others
            log.exception("camera %s stopped", worker.camera.id)
            worker.reader.health.set_state(StreamState.ERROR, f"{type(exc).__name__}: {exc}")
            self.errors.append(f"{worker.camera.id}: {exc}")

    def _start_live(self, worker: CameraWorker) -> None:
        """A live camera: its reader thread keeps only the newest frame; the pool analyses it when
        a thread is free, and finishes the camera's stays once the reader has ended."""

        def finish() -> None:
            self._finish(worker)

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
        needs = worker.pipeline.detection_needs()
        decision = None
        if worker.gate is not None:
            room = self.held_budget.take(frame.image.nbytes)  # given back below unless the frame is held
            may_hold = room and not worker.pipeline.plan_changed()  # a mode switch applies without delay
            decision = worker.gate.decide(frame.image, frame.stream_s, needs=needs, can_defer=may_hold)
            if decision.reason == "defer":
                worker.held.append(frame)  # analysed when the next run settles it
                return
            if room:
                self.held_budget.give(frame.image.nbytes)
        if not needs.labels:  # no active rule needs a detector label: nothing to detect
            self._settle(worker, None)
            worker.last_detections = EMPTY_DETECTIONS
            worker.detections_skipped += 1
        elif decision is None or decision.run or worker.last_detections is None:
            fresh = self._detect(worker, frame)
            calm = self._settle(worker, fresh)
            if worker.gate is not None:
                worker.gate.calm = calm
            worker.last_detections = fresh
        else:  # the rules need nothing new: the last detections still hold, so tracks and timers go on
            worker.detections_skipped += 1
        self._process(worker, frame, worker.last_detections)

    def _detect(self, worker: CameraWorker, frame: Frame) -> sv.Detections:
        worker.detections_run += 1
        return self.detector.detect(
            worker.camera.id, frame.image, labels=worker.pipeline.needed_labels, priority=worker.pipeline.priority
        )

    def _settle(self, worker: CameraWorker, fresh: sv.Detections | None) -> bool:
        """Analyse the frames held since the last run, now that the run at their end gave `fresh`
        (None: no run, e.g. the source ended): if the watched objects are the same as at the run
        before them, they keep its detections; otherwise each is detected, in order. Returns
        whether the watched objects were the same (the scene is calm)."""
        held, worker.held = worker.held, []
        before = worker.last_detections
        unchanged = False
        if fresh is not None and before is not None:
            size = (held[0].width, held[0].height) if held else (0, 0)
            if not held and worker.last_frame is not None:
                size = (worker.last_frame.width, worker.last_frame.height)
            zones = worker.pipeline.detection_needs().zones
            unchanged = same_objects(before, fresh, worker.pipeline.needed_labels, zones, size)
        if not held:
            return unchanged
        for frame in held:
            self.held_budget.give(frame.image.nbytes)
        for frame in held:
            if unchanged and before is not None:
                worker.detections_skipped += 1
                detections = before
            else:
                detections = worker.last_detections = self._detect(worker, frame)
                if worker.gate is not None:
                    worker.gate.reasons["confirm"] += 1
            self._process(worker, frame, detections)
        return unchanged

    def _process(self, worker: CameraWorker, frame: Frame, detections: sv.Detections) -> None:
        """Tracking, rules and their outputs for one analysed frame with its detections."""
        worker.last_frame = frame
        worker.reader.health.mark(analysed=1)
        for output in worker.pipeline.process(frame, detections):
            self._emit(output)
        if worker.recorder is not None:  # the segment's motion flag
            worker.recorder.note_analysis(frame.stream_s, len(detections) > 0)
        self._verify_clear_zones(worker, frame)
        worker.reader.sampler.retune(worker.pipeline.analysis_fps, frame.stream_s)  # a mode may change it

    def _finish(self, worker: CameraWorker) -> None:
        """The source ended: analyse any held frame, then close the camera's live stays."""
        with self.analysis_locks[worker.camera.id]:
            self._settle(worker, None)
            for output in worker.pipeline.finish():
                self._emit(output)

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
            worker = self.workers[output.camera_id]
            worker.events += 1
            if worker.ring is not None:  # its clip is written once post_s more stream time is read
                record = worker.camera.record
                name = self.sink.clip_name(output)
                worker.ring.request(
                    output.uid, name, trigger_s=output.triggered_s, pre_s=record.pre_s, post_s=record.post_s
                )
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
    runtime.close_recorders()
    return runtime
