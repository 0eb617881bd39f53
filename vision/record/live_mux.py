"""Live view's remuxing: one session's packets into fragmented MP4 (an init segment, then one
moof+mdat fragment per packet) with PyAV, stream copy, and the MSE codec string of a stream.

Used by `vision.record.live.LiveCamera` in the reader's thread, only while somebody watches.
"""

from __future__ import annotations

import contextlib
import io
from collections import deque
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import av

#: Codecs a browser's Media Source Extensions play from MP4 (others need transcoding).
PLAYABLE = ("h264", "hevc")
#: Fragments as small as one packet: a frame's latency, not a GOP's.
MOVFLAGS = "frag_every_frame+empty_moov+default_base_moof"


def _h264_string(extradata: bytes) -> str | None:
    if len(extradata) >= 4 and extradata[0] == 1:  # avcC: version, profile, constraints, level
        return f"avc1.{extradata[1]:02x}{extradata[2]:02x}{extradata[3]:02x}"
    for nal in extradata.split(b"\x00\x00\x01"):  # Annex B (RTSP's sprop-parameter-sets): the SPS
        if len(nal) >= 4 and nal[0] & 0x1F == 7:
            return f"avc1.{nal[1]:02x}{nal[2]:02x}{nal[3]:02x}"
    return None


def _hevc_string(extradata: bytes) -> str | None:
    if len(extradata) < 13 or extradata[0] != 1:  # only hvcC carries the fields in fixed places
        return None
    space, tier, profile = extradata[1] >> 6, (extradata[1] >> 5) & 1, extradata[1] & 0x1F
    compat = int.from_bytes(extradata[2:6], "big")
    compat = int(f"{compat:032b}"[::-1], 2)  # written bit-reversed in the codec string
    level = extradata[12]
    prefix = "" if space == 0 else "ABC"[space - 1]
    return f"hvc1.{prefix}{profile}.{compat:X}.{'H' if tier else 'L'}{level}.B0"


def codec_string(codec: str, extradata: bytes | None) -> str | None:
    """The MSE/RFC 6381 codec string of a stream (`avc1.64001f`), or None when a browser cannot
    play the codec from MP4 (e.g. MS-MPEG4 v3) or its parameters are unknown.

    Example:
        >>> codec_string("h264", bytes([1, 0x64, 0x00, 0x1F]))
        'avc1.64001f'
    """
    if codec == "h264":
        return _h264_string(extradata or b"") or "avc1.42e01e"
    if codec == "hevc":
        return _hevc_string(extradata or b"")
    return None


class _Collect(io.RawIOBase):
    """A write-only file that hands what the muxer writes to `on_bytes`."""

    def __init__(self, on_bytes: Callable[[bytes], None]):
        super().__init__()
        self.on_bytes = on_bytes

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.on_bytes(chunk)
        return len(chunk)


class BoxSplitter:
    """Cuts a byte stream into whole top-level MP4 boxes (size, type)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[bytes, bytes]]:
        """The boxes completed by `data`: (type, whole box bytes)."""
        self._buffer += data
        boxes: list[tuple[bytes, bytes]] = []
        while len(self._buffer) >= 8:
            size = int.from_bytes(self._buffer[:4], "big")
            header = 8
            if size == 1 and len(self._buffer) >= 16:
                size, header = int.from_bytes(self._buffer[8:16], "big"), 16
            if size < header or len(self._buffer) < size:
                break
            boxes.append((bytes(self._buffer[4:8]), bytes(self._buffer[:size])))
            del self._buffer[:size]
        return boxes


class FragmentMuxer:
    """One session's packets remuxed to fragmented MP4. `add` takes a packet's bytes and timing and
    answers the fragments completed so far as (keyframe, stream_s, bytes); `init` is the init
    segment (ftyp+moov) once the first packet went in. Timestamps start at the first packet's dts.

    Example:
        >>> muxer = FragmentMuxer(template)  # doctest: +SKIP
        >>> muxer.add(data, pts, dts, key=True, stream_s=12.0)  # doctest: +SKIP
        []
    """

    def __init__(self, template: Any):
        self.time_base: Fraction = template.time_base
        self.init: bytes | None = None
        self._splitter = BoxSplitter()
        self._head: list[bytes] = []
        self._moof: bytes | None = None
        self._done: list[bytes] = []
        self._muxed: deque[tuple[bool, float]] = deque()
        self._base: int | None = None
        self._last_dts = -1
        self._output = av.open(_Collect(self._on_bytes), "w", format="mp4", options={"movflags": MOVFLAGS})
        self._stream = self._output.add_stream_from_template(template.stream, opaque=True)

    def _on_bytes(self, data: bytes) -> None:
        for kind, box in self._splitter.feed(data):
            if self.init is None and kind in (b"ftyp", b"moov"):
                self._head.append(box)
                if kind == b"moov":
                    self.init = b"".join(self._head)
            elif kind == b"moof":
                self._moof = box
            elif kind == b"mdat" and self._moof is not None:
                self._done.append(self._moof + box)
                self._moof = None

    def add(self, data: bytes, pts: int, dts: int, *, key: bool, stream_s: float) -> list[tuple[bool, float, bytes]]:
        """Mux one packet (copied: the reader's packet is shared with the clip ring)."""
        if self._base is None:
            self._base = dts
        dts = max(dts - self._base, self._last_dts + 1)  # the muxer needs strictly increasing dts
        self._last_dts = dts
        packet = av.Packet(data)
        packet.dts, packet.pts = dts, max(pts - self._base, dts)
        packet.time_base = self.time_base
        packet.is_keyframe = key
        packet.stream = self._stream
        self._muxed.append((key, stream_s))
        self._output.mux(packet)
        done, self._done = self._done, []
        return [(*self._muxed.popleft(), fragment) for fragment in done]

    @property
    def start_pts(self) -> int:
        """The session dts that is media time zero."""
        return self._base or 0

    def close(self) -> None:
        """Close the output (its trailer is thrown away)."""
        with contextlib.suppress(av.FFmpegError, ValueError, OSError):  # a half-written live output
            self._output.close()
