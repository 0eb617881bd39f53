"""The demux loop the recording benches share: a file looped for `seconds` of stream, its
packets passed through a packet tap as the stream reader does (one session per loop)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import av

from vision.streams.clock import StreamClock

FPS = 25
#: A packet tap: (packets, stream, clock) -> the same packets (vision.record.taps.PacketTap).
Tap = Callable[[Iterator[av.Packet], Any, StreamClock], Iterator[av.Packet]]


def run_tapped(path: Path, seconds: float, tap: Tap) -> int:
    """Demux `path` in a loop through `tap` until `seconds` of stream at FPS; the packets read."""
    clock, count = StreamClock(), 0
    while count < seconds * FPS:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            clock.frame_interval = 1 / FPS
            first = True
            for packet in tap(container.demux(stream), stream, clock):
                if packet.size:
                    if first:
                        clock.stream_time(float(packet.pts * stream.time_base))
                        first = False
                    count += 1
                    if count >= seconds * FPS:
                        break
        clock.new_session()
    return count
