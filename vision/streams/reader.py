"""The stream reader: one camera's source in, the frames to analyse out, with its health kept.

Decoding follows one of two strategies per camera: ``keyframes`` (only key packets reach the
decoder, and only those the sampler takes; for analysis rates at or below the keyframe rate) or
``all`` (every packet decoded, only sampled frames converted to an image); ``auto`` measures the
keyframe interval from the packets and picks per keyframe (`choose_decode`). Files replay fast,
in real time or at a factor; live sources reconnect forever with exponential backoff and jitter,
and a stalled source (connection open, no video) is caught by FFmpeg's socket read timeout,
judged against the process's own lateness (`vision.streams.stall`) so that a starved process does
not call a healthy camera stalled. Nothing per camera spawns threads beyond the reader's own:
one decoder thread, one single-threaded scaler.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from citywatch.config import CameraConfig
from vision.frames import Frame
from vision.streams.clock import Sampler, StreamClock
from vision.streams.health import StreamHealth, StreamState
from vision.streams.slot import LatestFrameSlot
from vision.streams.source import SourceError, explain, open_container, url_secrets
from vision.streams.stall import Gate, LatenessMonitor, is_stall

log = logging.getLogger(__name__)

MAX_LATE_READS = 5  #: read timeouts in a row the process's own lateness may explain; then a stall
#: Decode strategies (`CameraConfig.decode`).
DECODE_AUTO, DECODE_KEYFRAMES, DECODE_ALL = "auto", "keyframes", "all"


def choose_decode(mode: str, analysis_fps: float, keyframe_interval_s: float | None) -> str:
    """The decode strategy for a camera: `mode` unless it is 'auto'; then 'keyframes' when the
    analysis rate is at or below the keyframe rate (known interval), else 'all'."""
    if mode != DECODE_AUTO:
        return mode
    if not keyframe_interval_s or keyframe_interval_s <= 0:
        return DECODE_ALL
    return DECODE_KEYFRAMES if analysis_fps <= 1.0 / keyframe_interval_s * 1.02 else DECODE_ALL


def incomplete_file(url: str, container: av.container.InputContainer, packets: int, frames: int) -> str | None:
    """Why a file read to its end is not a whole video, or None: it gave no frame at all, or fewer
    video packets than its header counts (a copy cut short; FFmpeg just stops early)."""
    if frames == 0:
        return f"no video frames in {url}: the file is empty or cut before its first frame"
    expected = container.streams.video[0].frames or 0
    if expected and packets < expected - max(2, expected // 100):
        return f"truncated file {url}: it ends after {packets} of the {expected} video frames its header announces"
    return None


class StreamReader:
    """Reads one camera's source and yields the frames to analyse.

    `frames()` is a generator: for files it runs the file once (or looping), paced by the
    configured replay speed; for live sources it reconnects forever with exponential backoff
    and jitter until `stop()`. `start()` runs it in a thread feeding a `LatestFrameSlot`.
    Health is in `self.health`. Shared by the cameras of a runtime: `lateness` (the process's own
    scheduling lateness, so a late read is not called a stall), `connect_gate` (how many cameras
    may open at once) and `decode_gate` (how many may decode and convert a sampled frame at once).

    Example:
        >>> reader = StreamReader(camera, lateness=LatenessMonitor().start())  # doctest: +SKIP
        >>> slot = reader.start()  # doctest: +SKIP
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
        lateness: LatenessMonitor | None = None,
        connect_gate: Gate | None = None,
        decode_gate: Gate | None = None,
        packet_tap: Callable[[Iterator[av.Packet], Any, StreamClock], Iterator[av.Packet]] | None = None,
    ):
        self.camera = camera
        self.speed = camera.replay.speed if speed is None else speed
        self.loop = camera.replay.loop if loop is None else loop
        self.decode_mode: str = decode or camera.decode
        if self.decode_mode not in (DECODE_AUTO, DECODE_KEYFRAMES, DECODE_ALL):
            raise ValueError(f"unknown decode strategy {self.decode_mode!r}")
        self.health = StreamHealth(secrets=url_secrets(camera.url))  # masked in every error it records
        self.clock = StreamClock()
        self.sampler = Sampler(camera.analysis_fps)
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self._stop = threading.Event()
        self._sleep = sleep
        self._max_backoff_s = max_backoff_s
        self._seq = 0
        self._thread: threading.Thread | None = None
        self._lateness = lateness
        self._connect_gate, self._decode_gate = connect_gate, decode_gate
        #: Sees every video packet before decoding (`vision.record.PacketRing.tap`: event clips).
        self.packet_tap = packet_tap
        self._clock: Callable[[], float] = lateness.clock if lateness is not None else time.monotonic
        self._last_packet_s = self._clock()
        self._late_reads = 0  # in a row
        self._watch_stalled = False  # set by `check_stall` (the monitor's thread), cleared by video
        self._resumed_at: float | None = None  # first packet of video flowing again after it
        # one single-threaded scaler: PyAV's default (per frame, threads=0) starts cpu_count+1 threads
        self._reformatter = VideoReformatter()

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
        if not self.camera.is_file:
            if self._lateness is None:  # a reader on its own (tests, the REPL): a monitor of its own
                self._lateness = LatenessMonitor(clock=self._clock).start()
            self._lateness.watch(self.check_stall)

        def run() -> None:
            try:
                for frame in self.frames():
                    slot.put(frame)
            except Exception as exc:  # a bug in one reader must not pass silently
                log.exception("camera %s: reader crashed", self.camera.id)
                self.health.set_state(StreamState.ERROR, f"reader crashed: {type(exc).__name__}: {exc}")
            finally:
                if self._lateness is not None:
                    self._lateness.unwatch(self.check_stall)
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
                self._fail(StreamState.ERROR, str(exc))
                return
            self.health.set_state(StreamState.ONLINE)
            packets_before, frames_before = self.health.frames_in, self.health.frames_sampled
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
                packets, frames = self.health.frames_in - packets_before, self.health.frames_sampled - frames_before
                incomplete = incomplete_file(self.camera.url, container, packets, frames)
            except av.FFmpegError as exc:
                self._fail(StreamState.ERROR, f"corrupt or unreadable file {self.camera.url}: {explain(exc)[0]}")
                return
            finally:
                container.close()
            if incomplete:  # FFmpeg ends a cut file quietly, as if it were whole
                self._fail(StreamState.ERROR, incomplete)
                return
            if not self.loop:
                break
            self.clock.new_session()
        if not self.stopped and self.health.state != StreamState.ERROR:
            self.health.set_state(StreamState.ENDED)

    def _read_live(self) -> Iterator[Frame]:
        attempt = 0
        health = self.health
        while not self.stopped:
            if health.state not in (StreamState.STALLED, StreamState.OFFLINE, StreamState.ERROR):
                health.set_state(StreamState.CONNECTING)
            try:
                container = self._open_live()
            except SourceError as exc:
                if self.stopped:  # stopped while waiting for the connect gate
                    return
                still_no_video = "timed out" in str(exc) or "not a readable video" in str(exc)
                if health.state == StreamState.STALLED and still_no_video:  # the server answers but sends no video
                    self._fail(StreamState.STALLED, f"still no video: {exc}")
                else:
                    self._fail(StreamState.ERROR if exc.permanent else StreamState.OFFLINE, str(exc))
            else:
                got_frames = False
                try:
                    for frame in self._decode(container):
                        if not got_frames:
                            got_frames, attempt = True, 0
                            health.set_state(StreamState.ONLINE)
                        yield frame
                        if self.stopped:
                            return
                    if not self.stopped:
                        self._fail(StreamState.OFFLINE, "stream ended (the server closed the connection)")
                except av.FFmpegError as exc:
                    reason, _ = explain(exc)
                    if "timed out" in reason:
                        reason = f"no video for {self.read_timeout_s:g}s+, connection open: {reason}"
                        self._fail(StreamState.STALLED, reason)
                    else:
                        self._fail(StreamState.OFFLINE, f"read failed: {reason}")
                finally:
                    container.close()
            if self.stopped:
                return
            health.reconnects += 1
            self._watch_stalled, self._resumed_at = False, None
            self.clock.new_session()
            delay = min(self._max_backoff_s, 0.25 * 2**attempt) * random.uniform(0.5, 1.0)
            attempt = min(attempt + 1, 16)
            self._stop.wait(delay)

    def check_stall(self) -> None:
        """Run by the lateness monitor about twice a second: no packet for the read timeout beyond
        the process's own lateness is `stalled` now (FFmpeg's timeout may come later: RTCP bytes
        restart it)."""
        if self.health.state != StreamState.ONLINE or self._lateness is None:
            return
        gap = self._clock() - self._last_packet_s
        if is_stall(gap, self.read_timeout_s, self._lateness.lateness(self._last_packet_s)):
            self._watch_stalled, self._resumed_at = True, None
            self._fail(StreamState.STALLED, f"no video for {self.read_timeout_s:g}s+, connection open")

    def _stall_over(self, now: float, previous: float) -> None:
        """Video again after a stall the monitor saw: `online` once it flowed a second, no gap."""
        if self._resumed_at is None or now - previous >= self.read_timeout_s:
            self._resumed_at = now
        elif now - self._resumed_at >= 1.0:
            self._watch_stalled, self._resumed_at = False, None
            self.health.set_state(StreamState.ONLINE)

    def _open_live(self) -> av.container.InputContainer:
        with self._connect_gate.inside() if self._connect_gate else contextlib.nullcontext():
            if self.stopped:
                raise SourceError("stopped before connecting")
            return open_container(self.camera.url, self.open_timeout_s, self.read_timeout_s)

    def _packets(self, container: av.container.InputContainer, stream: Any) -> Iterator[av.Packet]:
        """The stream's packets, riding out read timeouts that were this process's own lateness."""
        clock = self._clock
        self._last_packet_s = clock()
        while True:
            try:
                for packet in container.demux(stream):
                    now, previous = clock(), self._last_packet_s
                    self._last_packet_s = now
                    self._late_reads = 0
                    if self._watch_stalled:
                        self._stall_over(now, previous)
                    yield packet
                return
            except av.FFmpegError as exc:
                if not self._late_read(exc):
                    raise

    def _late_read(self, exc: av.FFmpegError) -> bool:
        """Whether a failed read was a timeout that this process's lateness explains (then the
        same connection is read again, counted in `health.late_reads`); else it is a stall."""
        if self._lateness is None or self.camera.is_file or self._late_reads >= MAX_LATE_READS:
            return False
        if "timed out" not in explain(exc)[0]:
            return False
        gap = self._clock() - self._last_packet_s
        late = self._lateness.lateness(self._last_packet_s)
        if is_stall(gap, self.read_timeout_s, late):
            return False
        self._late_reads += 1
        self.health.late_reads += 1
        log.info("camera %s: read timed out after %.1fs, the process %.1fs late: reading on", self.camera.id, gap, late)
        return True

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
        packets = self._packets(container, stream)
        for packet in packets if self.packet_tap is None else self.packet_tap(packets, stream, clock):
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
                    yield from self._decode_key(ctx, packet, stream_s)
                    continue
            elif keyframes_only or not seen_key:
                continue  # inter frames are not decoded (or cannot be, before the first keyframe)
            yield from self._frames_of(ctx, packet, time_base)

    def _decode_key(self, ctx: Any, packet: av.Packet, stream_s: float) -> list[Frame]:
        """Decode and convert one sampled keyframe, inside the decode gate (never across a yield)."""
        with self._decode_gate.inside() if self._decode_gate else contextlib.nullcontext():
            return self._key_frames(ctx, packet, stream_s)

    def _key_frames(self, ctx: Any, packet: av.Packet, stream_s: float) -> list[Frame]:
        frames = []
        for video_frame in ctx.decode(packet):
            self.health.frames_decoded += 1
            frames.append(self._emit(video_frame, stream_s))
        return frames

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
        image: np.ndarray = self._reformatter.reformat(video_frame, format="bgr24", threads=1).to_ndarray()
        health = self.health
        health.width, health.height = image.shape[1], image.shape[0]
        now = time.time()
        health.last_frame_wall_s, health.last_frame_stream_s = now, stream_s
        health.frames_sampled += 1
        self._seq += 1
        return Frame(self.camera.id, self._seq, stream_s, now, image)

    def _fail(self, state: StreamState, reason: str) -> None:
        reason = self.health.redact(reason)  # at the source: the log and every health output get it masked
        if self.health.last_error != reason or self.health.state != state:
            log.warning("camera %s: %s: %s", self.camera.id, state, reason)
        self.health.set_state(state, reason)
