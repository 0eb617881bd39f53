"""Stream readers: RTSP cameras and recorded files in, sampled `Frame`s with stream time out.

A `StreamReader` opens its source with PyAV, decodes, and converts to an image only the frames the
analysis rate needs. Stream time comes from packet pts and is kept monotonic across loops and
reconnects, so rule timers never jump. Files replay `fast` (every sampled frame, as fast as the
consumer takes them), `realtime`, or at a speed factor. Live sources reconnect with backoff and
hand the consumer only the newest frame (`LatestFrameSlot`), counting the ones it drops.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np

from citywatch.config import CameraConfig
from vision.frames import Frame

log = logging.getLogger(__name__)

#: Camera states reported by health.
CONNECTING, ONLINE, STALLED, OFFLINE, ERROR, ENDED = "connecting", "online", "stalled", "offline", "error", "ended"


class SourceError(Exception):
    """A source that cannot be opened or read; the message says why in plain words."""


@dataclass
class StreamHealth:
    """What an operator needs to know about one camera's feed; updated by its reader."""

    state: str = CONNECTING
    last_frame_wall_s: float | None = None
    last_frame_stream_s: float | None = None
    frames_decoded: int = 0
    frames_analysed: int = 0
    frames_dropped: int = 0
    reconnects: int = 0
    last_error: str | None = None
    width: int | None = None
    height: int | None = None
    _window: list[tuple[float, int, int]] = field(default_factory=list, repr=False)

    def mark(self, decoded: int = 0, analysed: int = 0) -> None:
        self.frames_decoded += decoded
        self.frames_analysed += analysed

    def rates(self, now: float | None = None) -> tuple[float, float]:
        """(input fps, analysed fps) over roughly the last ten seconds."""
        now = time.monotonic() if now is None else now
        self._window.append((now, self.frames_decoded, self.frames_analysed))
        while len(self._window) > 2 and now - self._window[0][0] > 10.0:
            self._window.pop(0)
        t0, d0, a0 = self._window[0]
        span = now - t0
        if span <= 0:
            return 0.0, 0.0
        return (self.frames_decoded - d0) / span, (self.frames_analysed - a0) / span


class Sampler:
    """Picks the frames to analyse at `fps` on a fixed stream-time grid, so any replay speed
    picks the same frames."""

    def __init__(self, fps: float):
        self.fps = fps
        self._last_bucket: int | None = None

    def take(self, stream_s: float) -> bool:
        bucket = math.floor(stream_s * self.fps + 1e-6)
        if self._last_bucket is not None and bucket <= self._last_bucket:
            return False
        self._last_bucket = bucket
        return True


class StreamClock:
    """Turns per-session pts seconds into monotonic stream time across loops and reconnects."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._session_start: float | None = None
        self.last: float | None = None
        self.frame_interval = 0.04

    def new_session(self) -> None:
        """Call when the source restarts (loop, reconnect): the next pts continues after the last."""
        if self.last is not None:
            self._offset = self.last + self.frame_interval
        self._session_start = None

    def stream_time(self, pts_s: float) -> float:
        if self._session_start is None:
            self._session_start = pts_s
        t = self._offset + (pts_s - self._session_start)
        if self.last is not None:
            if t <= self.last:  # pts went backwards or repeated: never let rule timers move back
                t = self.last + 1e-3
            elif t - self.last > 60.0:  # a jump (wraparound, camera clock reset): continue smoothly
                self._offset -= t - self.last - self.frame_interval
                t = self.last + self.frame_interval
        self.last = t
        return t


def source_path(url: str) -> str:
    """The path or URL PyAV opens for a configured camera URL."""
    return url[len("file://") :] if url.startswith("file://") else url


def open_container(url: str, open_timeout_s: float = 5.0, read_timeout_s: float = 3.0) -> av.container.InputContainer:
    """Open a file or stream with PyAV, with timeouts and fast probing for live sources."""
    path = source_path(url)
    is_live = "://" in path
    if not is_live and not Path(path).is_file():
        raise SourceError(f"file not found: {path}")
    options: dict[str, str] = {}
    if is_live:
        options = {
            "timeout": str(int(read_timeout_s * 1_000_000)),
            "analyzeduration": "100000",
            "probesize": "65536",
        }
        if path.startswith("rtsp"):
            options["rtsp_transport"] = "tcp"
    try:
        container = av.open(path, options=options, timeout=(open_timeout_s, read_timeout_s) if is_live else None)
    except (av.FFmpegError, OSError) as exc:
        raise SourceError(f"cannot open {path}: {exc}") from None
    if not container.streams.video:
        container.close()
        raise SourceError(f"no video stream in {path}")
    return container


class StreamReader:
    """Reads one camera's source and yields the frames to analyse.

    `frames()` is a generator: for files it runs the file once (or looping), paced by the
    configured replay speed; for live sources it reconnects forever with exponential backoff
    and jitter until `stop()`. Health is in `self.health`.
    """

    def __init__(
        self,
        camera: CameraConfig,
        *,
        speed: str | float | None = None,
        loop: bool | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_backoff_s: float = 30.0,
    ):
        self.camera = camera
        self.speed = camera.replay.speed if speed is None else speed
        self.loop = camera.replay.loop if loop is None else loop
        self.health = StreamHealth()
        self.clock = StreamClock()
        self.sampler = Sampler(camera.analysis_fps)
        self._stop = threading.Event()
        self._sleep = sleep
        self._max_backoff_s = max_backoff_s
        self._seq = 0

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def frames(self) -> Iterator[Frame]:
        if self.camera.is_file:
            yield from self._replay_file()
        else:
            yield from self._read_live()

    def _replay_file(self) -> Iterator[Frame]:
        wall_start: float | None = None
        first_stream_s: float | None = None
        while not self.stopped:
            try:
                container = open_container(self.camera.url)
            except SourceError as exc:
                self._fail(ERROR, str(exc))
                return
            self.health.state = ONLINE
            try:
                for frame in self._decode(container):
                    if self.speed != "fast":
                        factor = 1.0 if self.speed == "realtime" else float(self.speed)
                        if wall_start is None or first_stream_s is None:
                            wall_start, first_stream_s = time.monotonic(), frame.stream_s
                        due = wall_start + (frame.stream_s - first_stream_s) / factor
                        delay = due - time.monotonic()
                        if delay > 0:
                            self._stop.wait(delay)
                    if self.stopped:
                        return
                    yield frame
            except av.FFmpegError as exc:
                self._fail(ERROR, f"corrupt or unreadable file {self.camera.url}: {exc}")
                return
            finally:
                container.close()
            if not self.loop:
                break
            self.clock.new_session()
        if not self.stopped and self.health.state != ERROR:
            self.health.state = ENDED

    def _read_live(self) -> Iterator[Frame]:
        attempt = 0
        while not self.stopped:
            self.health.state = CONNECTING
            try:
                container = open_container(self.camera.url)
            except SourceError as exc:
                self._fail(OFFLINE, str(exc))
            else:
                attempt = 0
                try:
                    for frame in self._decode(container):
                        self.health.state = ONLINE
                        yield frame
                        if self.stopped:
                            return
                    self._fail(OFFLINE, "stream ended (server closed the connection)")
                except av.FFmpegError as exc:
                    self._fail(OFFLINE, f"read failed: {exc}")
                finally:
                    container.close()
            if self.stopped:
                return
            self.health.reconnects += 1
            self.clock.new_session()
            delay = min(self._max_backoff_s, 0.5 * 2**attempt) * random.uniform(0.5, 1.0)
            attempt = min(attempt + 1, 10)
            self._stop.wait(delay)

    def _decode(self, container: av.container.InputContainer) -> Iterator[Frame]:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        time_base = float(stream.time_base) if stream.time_base else 1.0 / 25
        rate = float(stream.average_rate) if stream.average_rate else 25.0
        self.clock.frame_interval = 1.0 / rate if rate > 0 else 0.04
        fallback_pts = 0
        for video_frame in container.decode(stream):
            if self.stopped:
                return
            self.health.mark(decoded=1)
            pts = video_frame.pts if video_frame.pts is not None else fallback_pts
            fallback_pts = pts + 1
            stream_s = self.clock.stream_time(pts * time_base)
            if not self.sampler.take(stream_s):
                continue
            image: np.ndarray = video_frame.to_ndarray(format="bgr24")
            self.health.width, self.health.height = image.shape[1], image.shape[0]
            now = time.time()
            self.health.last_frame_wall_s, self.health.last_frame_stream_s = now, stream_s
            self._seq += 1
            yield Frame(self.camera.id, self._seq, stream_s, now, image)

    def _fail(self, state: str, reason: str) -> None:
        if self.health.last_error != reason or self.health.state != state:
            log.warning("camera %s: %s", self.camera.id, reason)
        self.health.state, self.health.last_error = state, reason


class LatestFrameSlot:
    """A one-frame mailbox between a live reader and a slower consumer: `put` replaces the
    waiting frame (counting it as dropped), `get` takes the newest. Never grows."""

    def __init__(self) -> None:
        self._frame: Frame | None = None
        self._cond = threading.Condition()
        self.dropped = 0
        self.closed = False

    def put(self, frame: Frame) -> None:
        with self._cond:
            if self._frame is not None:
                self.dropped += 1
            self._frame = frame
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def get(self, timeout: float | None = None) -> Frame | None:
        """The newest frame, waiting up to `timeout`; None on timeout or when closed and empty."""
        with self._cond:
            if self._frame is None and not self.closed:
                self._cond.wait(timeout)
            frame, self._frame = self._frame, None
            return frame
