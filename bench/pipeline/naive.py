"""The naive loop the replay is measured against: what a first version of Citywatch would do.

Decode every frame of the file and convert it to an image (as `cv2.VideoCapture.read` does), run
the detector on every frame of the analysis grid (onnxruntime's default threading: one thread per
core, spinning) and feed the same `CameraPipeline` (tracking and rules), so its events are the
ungated reference. One thread, no prefetch, no gating: each step waits for the last.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import av

from citywatch.config import CitywatchConfig
from citywatch.detectors import load_detector
from citywatch.events import EventRecord
from citywatch.pipeline import CameraPipeline
from vision.frames import Frame
from vision.streams.clock import Sampler, StreamClock


@dataclass
class NaiveResult:
    """What one naive pass gave: wall seconds, frames decoded, detector calls and its events."""

    wall_s: float
    decoded: int = 0
    detections: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)


def naive_replay(config: CitywatchConfig, camera_index: int = 0, threads: int | None = None) -> NaiveResult:
    """Replay one camera of `config` the naive way, looping its file up to `replay.max_stream_s`;
    `threads` None is onnxruntime's own default (a thread per core, spinning), the naive choice."""
    camera = config.cameras[camera_index]
    tuned = {"threads": threads, "spin": False} if threads else {"threads": None, "spin": True}
    detector_config = config.detector.model_copy(update=tuned)
    detector = load_detector(detector_config)
    pipeline = CameraPipeline(camera, config=config)
    limit = camera.replay.max_stream_s or math.inf
    clock, sampler = StreamClock(), Sampler(camera.analysis_fps)  # the reader's time grid: same frames
    result = NaiveResult(0.0)
    started = time.perf_counter()
    while True:
        container = av.open(camera.url)
        stream = container.streams.video[0]
        clock.frame_interval = 1.0 / float(stream.average_rate or 25)
        for video_frame in container.decode(stream):
            image = video_frame.to_ndarray(format="bgr24")  # every frame, as VideoCapture.read()
            result.decoded += 1
            pts_s = float(video_frame.pts * stream.time_base) if video_frame.pts is not None else None
            now_s = clock.stream_time(pts_s)
            if now_s > limit:
                break
            if not sampler.take(now_s):
                continue
            frame = Frame(camera.id, result.decoded, now_s, time.time(), image)
            detections = detector.detect([image])[0]
            result.detections += 1
            for output in pipeline.process(frame, detections):
                if isinstance(output, EventRecord):
                    result.events.append(
                        {
                            "type": output.type,
                            "camera_id": output.camera_id,
                            "zone_id": output.zone_id,
                            "label": output.label,
                            "first_seen_s": output.first_seen_s,
                            "triggered_s": output.triggered_s,
                        }
                    )
        container.close()
        if not camera.replay.loop or (clock.last or 0.0) >= limit or not math.isfinite(limit):
            break
        clock.new_session()
    result.wall_s = time.perf_counter() - started
    return result
