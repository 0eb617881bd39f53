"""Each camera's ring of its newest video packets, and the event clips cut from it.

`PacketRing.tap` sits in the reader's demux loop (`StreamReader(packet_tap=ring.tap)`): it keeps a
reference to every packet (no decoding, no copy) with its stream time, in whole GOPs from a
keyframe, bounded by time (`window_s` behind the newest packet) and by bytes. `request` asks for
the clip of an event: from the keyframe at or before `trigger_s - pre_s` to `trigger_s + post_s`;
the clip collects the packets that follow until it is covered, then goes to `on_clip` (a
`vision.record.clip.ClipWriter` remuxes it to MP4). A session that ends (file end, connection lost,
a pts jump) finishes its pending clips with what they have: a clip never spans two sessions.
"""

from __future__ import annotations

import io
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import av

from vision.streams.clock import StreamClock

log = logging.getLogger(__name__)

#: Per camera: the most packet bytes the ring keeps (a D1 camera at 2 Mbit/s holds ~10 s in 2.5 MB).
RING_MAX_BYTES = 16 * 1024 * 1024
#: Seconds kept beyond `pre_s`: how far the analysis of a frame may lag behind its reader.
RING_SLACK_S = 5.0
#: A pending clip stops collecting at this many bytes (cut short, never unbounded).
CLIP_MAX_BYTES = 64 * 1024 * 1024
#: A change of the pts-to-stream-time mapping beyond this is a new session (a pts reset or jump).
_REBASE_TOLERANCE_S = 1e-3


@dataclass(frozen=True, slots=True)
class Entry:
    """One packet in the ring: the packet itself (shared, never modified), its timestamps in the
    stream's time base (made up from the frame interval when the source has none) and stream time."""

    packet: av.Packet
    pts: int
    dts: int
    stream_s: float
    key: bool
    size: int


class StreamTemplate:
    """The codec parameters of one session's video stream, copied out of the input container (which
    the reader closes when the session ends) into a private, never-written one, for remuxing later."""

    def __init__(self, stream: Any):
        self._holder = av.open(io.BytesIO(), "w", format="matroska")
        self.stream = self._holder.add_stream_from_template(stream, opaque=True)
        self.time_base: Fraction = stream.time_base or Fraction(1, 90000)
        self.codec = stream.codec_context.name
        self.width, self.height = stream.codec_context.width, stream.codec_context.height


@dataclass
class Clip:
    """The packets of one event's clip. `key` and `name` are the requester's (event uid, file name);
    `start_s`, `end_s` the window asked for; `ended_early` when its session ended before `end_s`."""

    key: str
    name: str
    camera_id: str
    trigger_s: float
    start_s: float
    end_s: float
    template: StreamTemplate | None
    entries: list[Entry] = field(default_factory=list)
    ended_early: bool = False
    size: int = 0

    @property
    def first_s(self) -> float | None:
        """Stream time of the clip's first packet (its keyframe)."""
        return self.entries[0].stream_s if self.entries else None

    @property
    def last_s(self) -> float | None:
        """Stream time of the latest packet in the clip."""
        return max(entry.stream_s for entry in self.entries) if self.entries else None


class PacketRing:
    """One camera's newest packets and its pending event clips. Thread-safe: `tap` runs in the
    reader's thread, `request` in the analysis thread; `on_clip` is called outside the lock, in
    whichever of them completes a clip.

    Example:
        >>> ring = PacketRing("cam", window_s=10.0, on_clip=writer.submit)  # doctest: +SKIP
        >>> reader = StreamReader(camera, packet_tap=ring.tap)  # doctest: +SKIP
        >>> ring.request("event-uid", "cam/20261202/event-uid.mp4", trigger_s=20.5, pre_s=5, post_s=5)  # doctest: +SKIP
    """

    def __init__(
        self,
        camera_id: str,
        *,
        window_s: float,
        on_clip: Callable[[Clip], None],
        max_bytes: int = RING_MAX_BYTES,
        clip_max_bytes: int = CLIP_MAX_BYTES,
    ):
        self.camera_id = camera_id
        self.window_s = window_s
        self.max_bytes = max_bytes
        self.clip_max_bytes = clip_max_bytes
        self.on_clip = on_clip
        self._lock = threading.Lock()
        self._gops: deque[list[Entry]] = deque()
        self._untimed: list[tuple[Entry, float]] = []  # before the clock maps this session: (entry, pts_s)
        self._pending: list[Clip] = []
        self._template: StreamTemplate | None = None
        self._live = False  # a session is being read
        self.bytes = 0
        #: GOPs dropped to stay within `max_bytes` (the time window then holds less than asked).
        self.dropped_for_bytes = 0

    @property
    def seconds(self) -> float:
        """Stream seconds the ring holds, from its oldest keyframe to its newest packet."""
        with self._lock:
            if not self._gops:
                return 0.0
            return self._gops[-1][-1].stream_s - self._gops[0][0].stream_s

    def tap(self, packets: Iterator[av.Packet], stream: Any, clock: StreamClock) -> Iterator[av.Packet]:
        """Pass a session's packets through unchanged, keeping each (from the first keyframe on) in
        the ring; when the session ends, however it ends, its pending clips finish."""
        time_base = float(stream.time_base or Fraction(1, 90000))
        try:
            template = StreamTemplate(stream)
        except (ValueError, av.FFmpegError) as exc:  # recording never stops a camera
            log.warning("camera %s: no clips this session: %s", self.camera_id, exc)
            yield from packets
            return
        self._begin(template)
        last_pts: int | None = None
        delta: float | None = None  # stream time minus session pts seconds
        recording = True
        try:
            for packet in packets:
                if packet.size and recording:
                    pts = packet.pts if packet.pts is not None else packet.dts
                    if pts is None:  # a source without timestamps: one frame interval per packet
                        pts = (last_pts or 0) + max(1, round(clock.frame_interval / time_base))
                    last_pts = pts
                    stream_s = clock.time_of(pts * time_base)
                    try:
                        if stream_s is not None:
                            now = stream_s - pts * time_base
                            if delta is not None and abs(now - delta) > _REBASE_TOLERANCE_S:
                                self._end()  # a pts reset or jump: what follows is a new session
                                self._begin(template)
                            delta = now
                        dts = packet.dts if packet.dts is not None else pts
                        self._add(packet, pts, dts, pts * time_base, stream_s)
                    except Exception:  # a bug here must cost the clips, never the camera
                        log.exception("camera %s: clips stopped for this session", self.camera_id)
                        recording = False
                yield packet
        finally:
            self._end()

    def request(self, key: str, name: str, *, trigger_s: float, pre_s: float, post_s: float) -> None:
        """Ask for the clip of an event triggered at stream time `trigger_s`: it goes to `on_clip`
        once the stream reaches `trigger_s + post_s`, or its session ends, whichever comes first."""
        clip = Clip(key, name, self.camera_id, trigger_s, trigger_s - pre_s, trigger_s + post_s, None)
        with self._lock:
            clip.template = self._template
            start = self._start_gop(clip.start_s)
            for gop in list(self._gops)[start:]:
                for entry in gop:
                    self._collect(clip, entry)
            done = not self._live or self._covered(clip)
            clip.ended_early = not self._covered(clip)
            if not done:
                self._pending.append(clip)
        if done:
            self._deliver([clip])

    # --- inside the lock ----------------------------------------------------------------------

    def _begin(self, template: StreamTemplate | None) -> None:
        with self._lock:
            self._gops.clear()
            self._untimed.clear()
            self.bytes = 0
            self._template, self._live = template, True

    def _end(self) -> None:
        """The session ended: pending clips go with what they have; the ring keeps its packets (a
        request arriving late, from a frame analysed after the reader ended, still gets them)."""
        with self._lock:
            finished, self._pending = self._pending, []
            self._live = False
            self._untimed.clear()
        for clip in finished:
            clip.ended_early = not self._covered(clip)
        self._deliver(finished)

    def _add(self, packet: av.Packet, pts: int, dts: int, pts_s: float, stream_s: float | None) -> None:
        key = bool(packet.is_keyframe)
        done: list[Clip] = []
        with self._lock:
            if not self._gops and not key:
                return  # nothing before a session's first keyframe can start a clip
            entry = Entry(packet, pts, dts, stream_s if stream_s is not None else 0.0, key, packet.size)
            if stream_s is None:
                self._untimed.append((entry, pts_s))
            elif self._untimed:  # the clock now maps this session: time what came before
                self._retime(stream_s - pts_s)
            if key:
                self._gops.append([entry])
            else:
                self._gops[-1].append(entry)
            self.bytes += entry.size
            if not self._untimed:
                self._trim()
                for clip in self._pending:
                    self._collect(clip, entry)
                    if self._covered(clip) or clip.size >= self.clip_max_bytes:
                        clip.ended_early = not self._covered(clip)
                        done.append(clip)
                self._pending = [clip for clip in self._pending if clip not in done]
        self._deliver(done)

    def _retime(self, delta: float) -> None:
        """Give the entries of this session that came before its first timed frame their stream time."""
        timed = {id(entry): pts_s + delta for entry, pts_s in self._untimed}
        for gop in self._gops:
            for i, entry in enumerate(gop):
                if id(entry) in timed:
                    gop[i] = Entry(entry.packet, entry.pts, entry.dts, timed[id(entry)], entry.key, entry.size)
        self._untimed.clear()

    def _trim(self) -> None:
        """Drop whole GOPs from the front: while the next keyframe is still `window_s` behind the
        newest packet, and while over `max_bytes` (then counted in `dropped_for_bytes`)."""
        gops = self._gops
        newest = gops[-1][-1].stream_s
        while len(gops) > 1 and newest - gops[1][0].stream_s >= self.window_s:
            self._drop_first()
        while len(gops) > 1 and self.bytes > self.max_bytes:
            self._drop_first()
            self.dropped_for_bytes += 1

    def _drop_first(self) -> None:
        self.bytes -= sum(entry.size for entry in self._gops.popleft())

    def _start_gop(self, start_s: float) -> int:
        """The GOP whose keyframe is the last at or before `start_s` (the oldest when none is)."""
        chosen = 0
        for i, gop in enumerate(self._gops):
            if gop[0].stream_s <= start_s:
                chosen = i
        return chosen

    @staticmethod
    def _collect(clip: Clip, entry: Entry) -> None:
        if not clip.entries and not entry.key:
            return
        clip.entries.append(entry)
        clip.size += entry.size

    @staticmethod
    def _covered(clip: Clip) -> bool:
        last = clip.last_s
        return last is not None and last >= clip.end_s

    def _deliver(self, clips: list[Clip]) -> None:
        for clip in clips:
            try:
                self.on_clip(clip)
            except Exception:  # the reader must go on whatever a clip's consumer does
                log.exception("camera %s: clip %s could not be handed over", self.camera_id, clip.key)
