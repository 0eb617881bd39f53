"""Continuous recording: a camera's packets copied (never re-encoded) into fixed-length MP4 segments.

`SegmentRecorder.tap` sits in the reader's demux loop (through `chain_taps`) and hands each packet
to the recorder's own writer thread through a bounded queue: the tap never blocks the reader; when
the queue is full it drops packets up to the next keyframe and counts them. A segment is cut at the
first keyframe at or after each `segment_s` boundary of stream time, so segment N ends where N+1
starts. Each is written as fragmented MP4 (`frag_keyframe+empty_moov+default_base_moof`: a file cut
short by a kill -9 is readable up to its last complete fragment) to `<camera>/<UTC day>/<start>.mp4.part`,
fsync'd and renamed to `.mp4` when it closes; `on_segment` is then told (the file is durable first).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import av

from citywatch.config import CameraConfig
from vision.record.clip import _fsync_dir
from vision.record.ring import StreamTemplate
from vision.streams.clock import StreamClock

log = logging.getLogger(__name__)

#: Packets waiting for a camera's segment writer, and their bytes; beyond either, packets are
#: dropped to the next keyframe (a slow disk never grows memory or slows the reader).
SEGMENT_QUEUE = 2048
SEGMENT_QUEUE_BYTES = 32 * 2**20
#: Fragmented MP4: a moov first, then a fragment per keyframe, so a cut-short file stays readable.
FRAGMENTED = "frag_keyframe+empty_moov+default_base_moof"


@dataclass(frozen=True)
class SegmentFile:
    """A finished segment: its path relative to the recordings directory, the stream seconds and
    UTC wall times it covers, its size, packets, and the packets dropped inside it (0: whole)."""

    camera_id: str
    name: str
    start_s: float
    end_s: float
    wall_start: datetime
    wall_end: datetime
    bytes: int
    packets: int
    codec: str
    #: Whether the analysis saw a watched object in it (None: no frame of it was analysed).
    motion: bool | None = None


def segment_name(camera_id: str, wall: datetime, seq: int) -> str:
    """`<camera>/<UTC day>/<UTC start, to the millisecond>-<seq>.mp4` (seq keeps fast replays unique)."""
    return f"{camera_id}/{wall:%Y%m%d}/{wall:%Y%m%dT%H%M%S}{wall.microsecond // 1000:03d}Z-{seq:05d}.mp4"


def open_fragmented(path: Path, template: StreamTemplate) -> tuple[Any, Any]:
    """A fragmented MP4 output with one stream copied from `template`: the `mp4` muxer, or `mov`
    for a codec `mp4` refuses (MS-MPEG4 v3)."""
    for fmt in ("mp4", "mov"):
        output = av.open(str(path), "w", format=fmt, options={"movflags": FRAGMENTED, "flush_packets": "1"})
        try:
            stream = output.add_stream_from_template(template.stream, opaque=True)
        except ValueError:
            output.close()
            continue
        return output, stream
    raise ValueError(f"no MP4 muxer takes codec {template.codec!r}")


class _Open:
    """The segment being written (writer thread only)."""

    def __init__(
        self, root: Path, camera_id: str, template: StreamTemplate, start_s: float, seq: int, wall_start: datetime
    ):
        self.wall_start = wall_start
        self.name = segment_name(camera_id, self.wall_start, seq)
        self.path = root / self.name
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.part = self.path.with_name(self.path.name + ".part")
        self.output, self.stream = open_fragmented(self.part, template)
        self.output.metadata["title"] = f"camera {camera_id}, continuous"
        self.template = template
        self.start_s = self.last_s = start_s
        self.base: int | None = None
        self.last_dts: int | None = None
        self.packets = 0

    def mux(self, packet: av.Packet, pts: int, dts: int, key: bool, stream_s: float) -> None:
        if self.base is None:
            self.base = dts
        copy = av.Packet(bytes(packet))  # the reader's packet is shared (ring, live view): never modified
        rebased = dts - self.base
        if self.last_dts is not None and rebased <= self.last_dts:
            rebased = self.last_dts + 1  # the muxer needs strictly increasing dts
        copy.dts, copy.pts = rebased, max(pts - self.base, rebased)
        copy.time_base = self.template.time_base
        copy.is_keyframe = key
        copy.stream = self.stream
        self.output.mux(copy)
        self.last_dts = rebased
        self.last_s = max(self.last_s, stream_s)
        self.packets += 1


class SegmentRecorder:
    """One camera's continuous recording: `tap` in the reader's thread, a writer thread of its own.

    Example:
        >>> recorder = SegmentRecorder("cam", Path("data/rec"), segment_s=60, on_segment=print)  # doctest: +SKIP
        >>> reader = StreamReader(camera, packet_tap=chain_taps([ring.tap, recorder.tap]))  # doctest: +SKIP
    """

    def __init__(
        self,
        camera_id: str,
        root: Path,
        *,
        segment_s: float,
        on_segment: Callable[[SegmentFile], None] | None = None,
        max_queue: int = SEGMENT_QUEUE,
        start_time: datetime | None = None,
    ):
        self.camera_id = camera_id
        #: A replayed file's wall time at stream time 0 (`camera.start_time`), else None: live.
        self.start_time = start_time
        #: (stream s, UTC wall) where this session's stream time was pinned to the wall clock:
        #: segments after it are placed by stream time, so a fast replay's do not overlap.
        self._anchor: tuple[float, datetime] | None = None
        self.root = root
        self.segment_s = segment_s
        self.on_segment = on_segment
        self._queue: queue.Queue[tuple[Any, ...] | None] = queue.Queue(max_queue)
        self.segments: list[SegmentFile] = []  # the newest finished ones (bounded)
        self.written = 0
        self.dropped_packets = 0
        self.errors = 0
        self._seq = 0
        self._queued_bytes = 0
        self._bytes_lock = threading.Lock()
        #: Stream times of the analysed frames that saw a watched object, and of the last analysed one.
        self._active: deque[float] = deque(maxlen=4096)
        self._analysed_s: float | None = None
        self._thread = threading.Thread(target=self._run, name=f"segments-{camera_id}", daemon=True)
        self._thread.start()

    @classmethod
    def for_camera(
        cls,
        camera: CameraConfig,
        root: Path | None,
        on_segment: Callable[[SegmentFile], None] | None = None,
        timezone: str = "UTC",
    ) -> SegmentRecorder | None:
        """The recorder of a camera with `record.continuous` (None without it or without a directory);
        a naive `start_time` of a replayed file is read in `timezone` (the city's)."""
        if not camera.record.continuous or root is None:
            return None
        start = camera.start_time if camera.is_file else None
        if start is not None and start.tzinfo is None:  # a naive start is in the camera's time zone
            start = start.replace(tzinfo=ZoneInfo(timezone))
        return cls(camera.id, root, segment_s=camera.record.segment_s, on_segment=on_segment, start_time=start)

    def note_analysis(self, stream_s: float, active: bool) -> None:
        """The analysis looked at the frame at `stream_s` and saw a watched object or not (any
        thread): a segment's `motion` flag says whether any of its frames did."""
        self._analysed_s = stream_s
        if active:
            self._active.append(stream_s)

    def _motion(self, start_s: float, end_s: float) -> bool | None:
        if any(start_s <= t < end_s for t in list(self._active)):
            return True
        return None if self._analysed_s is None or self._analysed_s < start_s else False

    # --- the reader's thread --------------------------------------------------------------------

    def tap(self, packets: Iterator[av.Packet], stream: Any, clock: StreamClock) -> Iterator[av.Packet]:
        """Pass a session's packets through unchanged, queueing each for the writer; a session's
        end (file end, reconnect) closes its segment."""
        time_base = float(stream.time_base or Fraction(1, 90000))
        try:
            template = StreamTemplate(stream)
        except (ValueError, av.FFmpegError) as exc:  # recording never stops a camera
            log.warning("camera %s: no continuous recording this session: %s", self.camera_id, exc)
            yield from packets
            return
        boundary: float | None = None  # stream time at which the next keyframe cuts a segment
        dropping = False
        last_pts: int | None = None
        first_pts_s: float | None = None  # until the clock maps this session, stream time is estimated
        estimate_base = clock.last + clock.frame_interval if clock.last is not None else 0.0
        try:
            for packet in packets:
                if packet.size:
                    try:
                        pts = packet.pts if packet.pts is not None else packet.dts
                        if pts is None:
                            pts = (last_pts or 0) + max(1, round(clock.frame_interval / time_base))
                        last_pts = pts
                        dts = packet.dts if packet.dts is not None else pts
                        if first_pts_s is None:
                            first_pts_s = pts * time_base
                        stream_s = clock.time_of(pts * time_base)
                        if stream_s is None:  # what the clock will say once it sees this session's first frame
                            stream_s = estimate_base + pts * time_base - first_pts_s
                        key = bool(packet.is_keyframe)
                        if key and (boundary is None or stream_s >= boundary or dropping):
                            # a new session, or a gap: never contiguous with the segment before
                            dropping = not self._put(("open", template, stream_s, dropping or boundary is None))
                            if not dropping:
                                boundary = stream_s + self.segment_s
                        if boundary is not None and not dropping:
                            dropping = not self._put_packet((packet, pts, dts, key, stream_s))
                        if dropping:
                            self.dropped_packets += 1
                    except Exception:  # a bug here must cost the recording, never the camera
                        self.errors += 1
                        log.exception("camera %s: continuous recording skipped a packet", self.camera_id)
                yield packet
        finally:
            self._put(("close", clock.frame_interval))  # when full, the next open (or close()) ends it

    def _put_packet(self, item: tuple[Any, ...]) -> bool:
        size = item[0].size
        with self._bytes_lock:
            if self._queued_bytes + size > SEGMENT_QUEUE_BYTES:
                return False
            self._queued_bytes += size
        if self._put(("packet", *item)):
            return True
        with self._bytes_lock:
            self._queued_bytes -= size
        return False

    def _put(self, item: tuple[Any, ...] | None, block: bool = False) -> bool:
        try:
            if block:  # a close must reach the writer (it waits at most a moment)
                self._queue.put(item, timeout=5.0)
            else:
                self._queue.put_nowait(item)
        except queue.Full:
            return False
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Finish the open segment and stop the writer."""
        self._put(("close", 0.0), block=True)
        self._put(None, block=True)
        self._thread.join(timeout)

    # --- the writer's thread --------------------------------------------------------------------

    def _run(self) -> None:
        current: _Open | None = None
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                current = self._handle(current, item)
            except Exception as exc:  # errors cost this segment, never the camera
                self.errors += 1
                log.warning("camera %s: segment not written: %s", self.camera_id, exc)
                if current is not None:
                    self._discard(current)
                current = None
            finally:
                self._queue.task_done()

    def _handle(self, current: _Open | None, item: tuple[Any, ...]) -> _Open | None:
        kind = item[0]
        if kind == "open":
            _, template, start_s, after_gap = item
            if current is not None:  # ends where the next starts, unless packets were dropped between
                self._finish(current, end_s=current.last_s if after_gap else start_s)
            self._seq += 1
            return _Open(self.root, self.camera_id, template, start_s, self._seq, self._wall_at(start_s, after_gap))
        if kind == "packet":
            _, packet, pts, dts, key, stream_s = item
            try:
                if current is not None:
                    current.mux(packet, pts, dts, key, stream_s)
            finally:
                with self._bytes_lock:
                    self._queued_bytes -= packet.size
            return current
        if current is not None:  # close: the session ended
            self._finish(current, end_s=current.last_s + float(item[1]))
        return None

    def _wall_at(self, start_s: float, new_session: bool) -> datetime:
        """The UTC wall time of stream time `start_s`: `start_time` on for a file that has one;
        else pinned to now at a session's (or a gap's) first segment and counted on by stream time."""
        if self.start_time is not None:
            return self.start_time + timedelta(seconds=start_s)
        if new_session or self._anchor is None:
            self._anchor = (start_s, datetime.now(UTC))
        return self._anchor[1] + timedelta(seconds=start_s - self._anchor[0])

    def _finish(self, segment: _Open, *, end_s: float) -> None:
        segment.output.close()
        if segment.packets == 0:
            segment.part.unlink(missing_ok=True)
            return
        with open(segment.part, "rb") as written:
            os.fsync(written.fileno())
        os.replace(segment.part, segment.path)
        _fsync_dir(segment.path.parent)
        done = SegmentFile(
            self.camera_id,
            segment.name,
            segment.start_s,
            end_s,
            segment.wall_start,
            segment.wall_start + timedelta(seconds=max(0.0, end_s - segment.start_s)),
            segment.path.stat().st_size,
            segment.packets,
            segment.template.codec,
            self._motion(segment.start_s, end_s),
        )
        self.written += 1
        self.segments = [*self.segments[-255:], done]
        if self.on_segment is not None:
            try:
                self.on_segment(done)
            except Exception:
                log.exception("camera %s: segment %s could not be indexed", self.camera_id, done.name)

    def _discard(self, segment: _Open) -> None:
        try:
            segment.output.close()
        except Exception:  # already broken: the .part is left to recovery
            log.debug("camera %s: closing a failed segment", self.camera_id, exc_info=True)
