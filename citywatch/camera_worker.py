"""One running camera's parts (its reader, pipeline, motion gate, packet ring and recorder) and
the sizes of the shared thread pools a runtime gives its cameras, by core count."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

import supervision as sv

from citywatch.config import CameraConfig
from citywatch.pipeline import CameraPipeline
from vision.frames import Frame
from vision.motion import MotionGate
from vision.record.ring import PacketRing
from vision.record.segments import SegmentRecorder
from vision.streams import StreamReader


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
    #: Frames deferred under motion, analysed when the next detector run settles them.
    held: list[Frame] = field(default_factory=list)
    ring: PacketRing | None = None  # the newest packets, for event clips (`record.clips`)
    recorder: SegmentRecorder | None = None  # continuous recording (`record.continuous`)
