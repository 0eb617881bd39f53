"""Stream readers: RTSP cameras and recorded files in, sampled `Frame`s with stream time out.

A `StreamReader` opens its source with PyAV (RTSP over TCP, open and read timeouts, fast probing),
and decodes only what the analysis rate needs, with one of two strategies per camera:

* ``keyframes``: only key packets reach the decoder, and only those the sampler takes; used when
  the analysis rate is at or below the keyframe rate (cheapest: ~demux cost plus a few decodes);
* ``all``: every packet is decoded (inter frames need their references) but only the sampled
  frames are converted to an image.

``auto`` (the default) measures the keyframe interval from the packets and picks per keyframe.

Stream time comes from pts and is kept monotonic across loops, reconnects, pts resets, jumps and
wraparounds (`StreamClock`), so rule timers never jump; wall-clock arrival is kept separately.
Frames to analyse are picked on a fixed stream-time grid (`Sampler`), so a file replayed `fast`,
`realtime` or at any factor yields the same frames. Live sources reconnect forever with
exponential backoff and jitter; a stalled source (connection open, no video) is detected by the
read timeout. A live reader runs in its own thread (`StreamReader.start`) and hands a slower
consumer only the newest frame (`LatestFrameSlot`), counting the stale ones it drops. Nothing
queues without bound. `health_snapshot` turns a camera's `StreamHealth` into a JSON-ready dict.
"""

from __future__ import annotations

import logging
import math
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np

from citywatch.config import CameraConfig
from vision.frames import Frame

log = logging.getLogger(__name__)

#: Camera states reported by health.
CONNECTING, ONLINE, STALLED, OFFLINE, ERROR = "connecting", "online", "stalled", "offline", "error"
ENDED = "ended"  # a file source that played to its end
STATES = (CONNECTING, ONLINE, STALLED, OFFLINE, ERROR, ENDED)

#: Decode strategies (`CameraConfig.decode`).
DECODE_AUTO, DECODE_KEYFRAMES, DECODE_ALL = "auto", "keyframes", "all"

#: Codecs FFmpeg "finds" in text or images that are not camera video.
_NOT_CAMERA_VIDEO = {"ansi", "text", "tty", "bintext", "xbin", "idf", "png", "mjpeg_text"}


class SourceError(Exception):
    """A source that cannot be opened or read; the message says why in plain words.

    `permanent` is True for faults a retry will not fix by itself (unknown host, wrong path, not
    video, corrupt file): the camera shows `error` rather than `offline`.
    """

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


@dataclass
class StreamHealth:
    """What an operator needs to know about one camera's feed; updated by its reader.

    Counters: `frames_in` packets received, `frames_decoded` frames decoded, `frames_sampled`
    frames handed out by the reader, `frames_analysed` frames the consumer analysed (it calls
    `mark(analysed=1)`), `frames_dropped` stale frames replaced in a `LatestFrameSlot`.
    """

    state: str = CONNECTING
    state_since_wall_s: float = field(default_factory=time.time)
    last_frame_wall_s: float | None = None
    last_frame_stream_s: float | None = None
    frames_in: int = 0
    frames_decoded: int = 0
    frames_sampled: int = 0
    frames_analysed: int = 0
    frames_dropped: int = 0
    reconnects: int = 0
    last_error: str | None = None
    last_error_wall_s: float | None = None
    width: int | None = None
    height: int | None = None
    decode: str | None = None
    keyframe_interval_s: float | None = None
    _window: deque[tuple[float, int, int, int]] = field(default_factory=deque, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._window.append((time.monotonic(), 0, 0, 0))

    def mark(self, decoded: int = 0, analysed: int = 0) -> None:
        """Count decoded frames (reader) and analysed frames (consumer)."""
        self.frames_decoded += decoded
        self.frames_analysed += analysed

    def set_state(self, state: str, error: str | None = None) -> None:
        """Change state (and record an error text when given)."""
        if state != self.state:
            self.state = state
            self.state_since_wall_s = time.time()
        if error is not None:
            self.last_error, self.last_error_wall_s = error, time.time()

    def rates(self, now: float | None = None) -> tuple[float, float]:
        """(input fps, analysed fps) over roughly the last ten seconds."""
        input_fps, _, analysed_fps = self.all_rates(now)
        return input_fps, analysed_fps

    def all_rates(self, now: float | None = None) -> tuple[float, float, float]:
        """(input, sampled, analysed) frames per second over roughly the last ten seconds.

        Analysed falls back to sampled when no consumer counts analysed frames."""
        now = time.monotonic() if now is None else now
        with self._lock:
            current = (now, self.frames_in, self.frames_sampled, self.frames_analysed)
            if now - self._window[-1][0] >= 0.5:
                self._window.append(current)
            while len(self._window) > 2 and now - self._window[1][0] >= 10.0:
                self._window.popleft()
            t0, i0, s0, a0 = self._window[0]
        span = now - t0
        if span <= 0:
            return 0.0, 0.0, 0.0
        sampled = (current[2] - s0) / span
        analysed = (current[3] - a0) / span if self.frames_analysed else sampled
        return (current[1] - i0) / span, sampled, analysed


def health_snapshot(health: StreamHealth, now_wall_s: float | None = None) -> dict[str, Any]:
    """A JSON-ready view of one camera's health for `GET /api/cameras` and `/metrics`.

    Keys: state, state_since (epoch s), last_frame_at (epoch s or None), last_frame_age_s,
    stream_s, input_fps, sampled_fps, analysed_fps, frames_in, frames_decoded, frames_sampled,
    frames_analysed, frames_dropped, reconnects, last_error, last_error_at, width, height,
    decode (effective strategy), keyframe_interval_s. Pure: reads `health`, changes only its
    rate window.
    """
    now_wall_s = time.time() if now_wall_s is None else now_wall_s
    input_fps, sampled_fps, analysed_fps = health.all_rates()
    last = health.last_frame_wall_s
    return {
        "state": health.state,
        "state_since": health.state_since_wall_s,
        "last_frame_at": last,
        "last_frame_age_s": None if last is None else round(max(0.0, now_wall_s - last), 3),
        "stream_s": health.last_frame_stream_s,
        "input_fps": round(input_fps, 2),
        "sampled_fps": round(sampled_fps, 2),
        "analysed_fps": round(analysed_fps, 2),
        "frames_in": health.frames_in,
        "frames_decoded": health.frames_decoded,
        "frames_sampled": health.frames_sampled,
        "frames_analysed": health.frames_analysed,
        "frames_dropped": health.frames_dropped,
        "reconnects": health.reconnects,
        "last_error": health.last_error,
        "last_error_at": health.last_error_wall_s,
        "width": health.width,
        "height": health.height,
        "decode": health.decode,
        "keyframe_interval_s": health.keyframe_interval_s,
    }


class Sampler:
    """Picks the frames to analyse at `fps` on a fixed stream-time grid, so any replay speed
    picks the same frames."""

    def __init__(self, fps: float):
        self.fps = fps
        self._last_bucket: int | None = None

    def take(self, stream_s: float) -> bool:
        """True when `stream_s` opens a new grid cell (the first frame at or after it)."""
        bucket = math.floor(stream_s * self.fps + 1e-6)
        if self._last_bucket is not None and bucket <= self._last_bucket:
            return False
        self._last_bucket = bucket
        return True


class StreamClock:
    """Turns per-session pts seconds into monotonic stream time across loops and reconnects.

    Within a session, small backward steps (reordering) are clamped; a backward step of more than
    `max_back_s` (a pts reset or wraparound) or a forward jump of more than `max_gap_s` (a camera
    clock jump) rebases the session so that stream time continues one frame interval after the
    last value. A new session (loop, reconnect) also continues one frame interval after the last.
    A missing pts (None) is taken as one frame interval after the previous one.
    """

    def __init__(self, max_gap_s: float = 30.0, max_back_s: float = 1.0) -> None:
        self._offset = 0.0
        self._session_start: float | None = None
        self._pending = 0  # frames without pts seen before the session's first pts
        self._last_pts_s: float | None = None
        self.last: float | None = None
        self.frame_interval = 0.04
        self.max_gap_s = max_gap_s
        self.max_back_s = max_back_s
        self.rebases = 0

    def new_session(self) -> None:
        """Call when the source restarts (loop, reconnect): the next pts continues after the last."""
        if self.last is not None:
            self._offset = self.last + self.frame_interval
        self._session_start = None
        self._last_pts_s = None
        self._pending = 0

    def stream_time(self, pts_s: float | None) -> float:
        """Stream time of a frame whose pts (in seconds, this session's clock) is `pts_s`."""
        if pts_s is None:
            if self._last_pts_s is None:
                t = self._offset + self._pending * self.frame_interval
                self._pending += 1
                self.last = t if self.last is None or t > self.last else self.last + 1e-3
                return self.last
            pts_s = self._last_pts_s + self.frame_interval
        if self._session_start is None:
            self._session_start = pts_s - self._pending * self.frame_interval
        self._last_pts_s = pts_s
        t = self._offset + (pts_s - self._session_start)
        last = self.last
        if last is not None:
            step = t - last
            if step > self.max_gap_s or step < -self.max_back_s:
                self._offset -= step - self.frame_interval  # reset, wrap or jump: continue smoothly
                self.rebases += 1
                t = last + self.frame_interval
            elif step <= 0:  # small reorder or repeat: never let rule timers move back
                t = last + 1e-3
        self.last = t
        return t


def choose_decode(mode: str, analysis_fps: float, keyframe_interval_s: float | None) -> str:
    """The decode strategy for a camera: `mode` unless it is 'auto'; then 'keyframes' when the
    analysis rate is at or below the keyframe rate (known interval), else 'all'."""
    if mode != DECODE_AUTO:
        return mode
    if not keyframe_interval_s or keyframe_interval_s <= 0:
        return DECODE_ALL
    return DECODE_KEYFRAMES if analysis_fps <= 1.0 / keyframe_interval_s * 1.02 else DECODE_ALL


def source_path(url: str) -> str:
    """The path or URL PyAV opens for a configured camera URL."""
    return url[len("file://") :] if url.startswith("file://") else url


def _redact(url: str) -> str:
    """The URL without user:password, for messages."""
    if "://" in url and "@" in url.split("://", 1)[1].split("/", 1)[0]:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def _host_of(url: str) -> str | None:
    """The host name of a URL, or None for a file path."""
    if "://" not in url:
        return None
    netloc = url.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
    if netloc.startswith("["):
        return netloc[1:].split("]", 1)[0]
    return netloc.split(":", 1)[0] or None


def _resolves(host: str) -> bool:
    """Whether a host name resolves (asked only after an open failed, to name the reason)."""
    try:
        socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False
    return True


def _explain(exc: BaseException) -> tuple[str, bool]:
    """A plain-words reason for an FFmpeg/OS error and whether it is permanent."""
    text = str(exc)
    low = text.lower()
    errno = getattr(exc, "errno", None)
    if "name or service not known" in low or "resolve" in low or "no address" in low:
        return f"unknown host ({text})", True
    if "404" in low or ("not found" in low and "server returned" in low):
        return f"path not found on the server ({text})", True
    if "401" in low or "403" in low or "unauthorized" in low or "forbidden" in low:
        return f"not authorised ({text})", True
    if "invalid data" in low or "moov atom" in low:
        return f"not a readable video ({text})", True
    if "refused" in low:
        return f"connection refused ({text})", False
    if isinstance(exc, av.ExitError) or "immediate exit" in low:  # PyAV's open/read timeout fired
        return f"timed out (no data within the timeout; {text})", False
    if "timed out" in low or "timeout" in low or errno in (110, 60):
        return f"timed out ({text})", False
    return text, False


def open_container(
    url: str, open_timeout_s: float = 5.0, read_timeout_s: float = 2.0
) -> av.container.InputContainer:
    """Open a file or stream with PyAV, with timeouts and fast probing for live sources.

    Raises `SourceError` (with `permanent` set for faults a retry will not fix)."""
    path = source_path(url)
    is_live = "://" in path
    if not is_live and not Path(path).is_file():
        raise SourceError(f"file not found: {path}", permanent=True)
    options: dict[str, str] = {}
    if is_live:
        options = {
            "timeout": str(int(read_timeout_s * 1_000_000)),  # socket I/O timeout, microseconds
            "analyzeduration": "100000",
            "probesize": "65536",
            "fflags": "nobuffer",
        }
        if path.startswith("rtsp"):
            options["rtsp_transport"] = "tcp"
    try:
        container = av.open(
            path, options=options, timeout=(open_timeout_s, read_timeout_s) if is_live else None
        )
    except (av.FFmpegError, OSError) as exc:
        reason, permanent = _explain(exc)
        host = _host_of(path)
        if host and not permanent and "refused" not in reason and not _resolves(host):
            reason, permanent = f"unknown host {host!r} (name does not resolve)", True
        raise SourceError(f"cannot open {_redact(path)}: {reason}", permanent=permanent) from None
    streams = container.streams.video
    if is_live and streams and streams[0].codec_context.name not in _NOT_CAMERA_VIDEO and not streams[0].width:
        container.close()  # a video stream is announced but no picture arrived while probing
        raise SourceError(f"cannot open {_redact(path)}: timed out waiting for the first video frame")
    if not streams or streams[0].codec_context.name in _NOT_CAMERA_VIDEO or not streams[0].width:
        what = streams[0].codec_context.name if streams else container.format.name
        container.close()
        raise SourceError(f"no camera video in {_redact(path)} (found {what})", permanent=True)
    return container


class StreamReader:
    """Reads one camera's source and yields the frames to analyse.

    `frames()` is a generator: for files it runs the file once (or looping), paced by the
    configured replay speed; for live sources it reconnects forever with exponential backoff
    and jitter until `stop()`. `start()` runs it in a thread feeding a `LatestFrameSlot`.
    Health is in `self.health`.
    """

    def __init__(
        self,
        camera: CameraConfig,
        *,
        speed: str | float | None = None,
        loop: bool | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_backoff_s: float = 4.0,
        open_timeout_s: float = 5.0,
        read_timeout_s: float = 2.0,
        decode: str | None = None,
    ):
        self.camera = camera
        self.speed = camera.replay.speed if speed is None else speed
        self.loop = camera.replay.loop if loop is None else loop
        self.decode_mode = decode or getattr(camera, "decode", DECODE_AUTO)
        if self.decode_mode not in (DECODE_AUTO, DECODE_KEYFRAMES, DECODE_ALL):
            raise ValueError(f"unknown decode strategy {self.decode_mode!r}")
        self.health = StreamHealth()
        self.clock = StreamClock()
        self.sampler = Sampler(camera.analysis_fps)
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self._stop = threading.Event()
        self._sleep = sleep
        self._max_backoff_s = max_backoff_s
        self._seq = 0
        self._thread: threading.Thread | None = None

    def stop(self) -> None:
        """Ask the reader to end; a blocked read returns within the read timeout."""
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def frames(self) -> Iterator[Frame]:
        """The frames to analyse, in stream order (see the class docstring)."""
        if self.camera.is_file:
            yield from self._replay_file()
        else:
            yield from self._read_live()

    def start(self, slot: LatestFrameSlot | None = None) -> LatestFrameSlot:
        """Run `frames()` in a daemon thread that puts each frame into `slot` (a new one by
        default, counting drops into this reader's health); the slot is closed when reading ends."""
        slot = slot if slot is not None else LatestFrameSlot(self.health)

        def run() -> None:
            try:
                for frame in self.frames():
                    slot.put(frame)
            except Exception as exc:  # a bug in one reader must not pass silently
                log.exception("camera %s: reader crashed", self.camera.id)
                self.health.set_state(ERROR, f"reader crashed: {type(exc).__name__}: {exc}")
            finally:
                slot.close()

        self._thread = threading.Thread(target=run, name=f"reader-{self.camera.id}", daemon=True)
        self._thread.start()
        return slot

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the `start()` thread to end; True when it has."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _replay_file(self) -> Iterator[Frame]:
        wall_start: float | None = None
        first_stream_s: float | None = None
        factor = None if self.speed == "fast" else 1.0 if self.speed == "realtime" else float(self.speed)
        while not self.stopped:
            try:
                container = open_container(self.camera.url)
            except SourceError as exc:
                self._fail(ERROR, str(exc))
                return
            self.health.set_state(ONLINE)
            try:
                for frame in self._decode(container):
                    if factor is not None:
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
                self._fail(ERROR, f"corrupt or unreadable file {self.camera.url}: {_explain(exc)[0]}")
                return
            finally:
                container.close()
            if not self.loop:
                break
            self.clock.new_session()
        if not self.stopped and self.health.state != ERROR:
            self.health.set_state(ENDED)

    def _read_live(self) -> Iterator[Frame]:
        attempt = 0
        health = self.health
        while not self.stopped:
            if health.state not in (STALLED, OFFLINE, ERROR):
                health.set_state(CONNECTING)
            try:
                container = open_container(self.camera.url, self.open_timeout_s, self.read_timeout_s)
            except SourceError as exc:
                still_no_video = "timed out" in str(exc) or "not a readable video" in str(exc)
                if health.state == STALLED and still_no_video:  # the server answers but sends no video
                    self._fail(STALLED, f"still no video: {exc}")
                else:
                    self._fail(ERROR if exc.permanent else OFFLINE, str(exc))
            else:
                got_frames = False
                try:
                    for frame in self._decode(container):
                        if not got_frames:
                            got_frames, attempt = True, 0
                            health.set_state(ONLINE)
                        yield frame
                        if self.stopped:
                            return
                    if not self.stopped:
                        self._fail(OFFLINE, "stream ended (the server closed the connection)")
                except av.FFmpegError as exc:
                    reason, _ = _explain(exc)
                    if "timed out" in reason:
                        reason = f"no video for {self.read_timeout_s:g}s+, connection open: {reason}"
                        self._fail(STALLED, reason)
                    else:
                        self._fail(OFFLINE, f"read failed: {reason}")
                finally:
                    container.close()
            if self.stopped:
                return
            health.reconnects += 1
            self.clock.new_session()
            delay = min(self._max_backoff_s, 0.25 * 2**attempt) * random.uniform(0.5, 1.0)
            attempt = min(attempt + 1, 16)
            self._stop.wait(delay)

    def _decode(self, container: av.container.InputContainer) -> Iterator[Frame]:
        """Demux, decode per the strategy, sample on the stream-time grid, convert, yield."""
        stream = container.streams.video[0]
        ctx = stream.codec_context
        ctx.thread_count = 1  # hundreds of streams: one thread each decodes cheapest per frame
        time_base = float(stream.time_base) if stream.time_base else 1.0 / 90000
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        clock, sampler, health = self.clock, self.sampler, self.health
        clock.frame_interval = 1.0 / rate if rate > 0 else 0.04
        mode = self.decode_mode
        key_interval = health.keyframe_interval_s
        strategy = choose_decode(mode, sampler.fps, key_interval)
        health.decode = strategy
        keyframes_only = strategy == DECODE_KEYFRAMES
        last_key_pts: int | None = None
        seen_key = False
        for packet in container.demux(stream):
            if self._stop.is_set():
                return
            if packet.size == 0:  # end of file: drain the decoder
                if not keyframes_only:
                    yield from self._frames_of(ctx, None, time_base)
                continue
            health.frames_in += 1
            pts = packet.pts if packet.pts is not None else packet.dts
            if packet.is_keyframe:
                seen_key = True
                if pts is not None:
                    if last_key_pts is not None and pts > last_key_pts:
                        key_interval = health.keyframe_interval_s = (pts - last_key_pts) * time_base
                        if mode == DECODE_AUTO:
                            strategy = choose_decode(mode, sampler.fps, key_interval)
                            keyframes_only = strategy == DECODE_KEYFRAMES
                            health.decode = strategy
                    last_key_pts = pts
                if keyframes_only:
                    stream_s = clock.stream_time(None if pts is None else pts * time_base)
                    if not sampler.take(stream_s):
                        continue
                    for video_frame in ctx.decode(packet):
                        health.frames_decoded += 1
                        yield self._emit(video_frame, stream_s)
                    continue
            elif keyframes_only or not seen_key:
                continue  # inter frames are not decoded (or cannot be, before the first keyframe)
            yield from self._frames_of(ctx, packet, time_base)

    def _frames_of(self, ctx: Any, packet: av.Packet | None, time_base: float) -> Iterator[Frame]:
        """Decode one packet (all-frames strategy); convert only the frames the sampler takes."""
        try:
            decoded = ctx.decode(packet)
        except av.InvalidDataError:
            return  # a damaged inter frame: skip it, the next keyframe repairs the picture
        for video_frame in decoded:
            self.health.frames_decoded += 1
            pts = video_frame.pts
            stream_s = self.clock.stream_time(None if pts is None else pts * time_base)
            if self.sampler.take(stream_s):
                yield self._emit(video_frame, stream_s)

    def _emit(self, video_frame: av.VideoFrame, stream_s: float) -> Frame:
        image: np.ndarray = video_frame.to_ndarray(format="bgr24")
        health = self.health
        health.width, health.height = image.shape[1], image.shape[0]
        now = time.time()
        health.last_frame_wall_s, health.last_frame_stream_s = now, stream_s
        health.frames_sampled += 1
        self._seq += 1
        return Frame(self.camera.id, self._seq, stream_s, now, image)

    def _fail(self, state: str, reason: str) -> None:
        if self.health.last_error != reason or self.health.state != state:
            log.warning("camera %s: %s: %s", self.camera.id, state, reason)
        self.health.set_state(state, reason)


class LatestFrameSlot:
    """A one-frame mailbox between a live reader and a slower consumer: `put` replaces the
    waiting frame (counting it as dropped, also into `health` when given), `get` takes the
    newest. Never grows."""

    def __init__(self, health: StreamHealth | None = None) -> None:
        self._frame: Frame | None = None
        self._cond = threading.Condition()
        self._health = health
        self.dropped = 0
        self.closed = False

    def put(self, frame: Frame) -> None:
        with self._cond:
            if self._frame is not None:
                self.dropped += 1
                if self._health is not None:
                    self._health.frames_dropped += 1
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
