"""Packet taps: functions the reader's demux loop passes a session's packets through, before
decoding (`StreamReader(packet_tap=...)`), and `chain_taps`, which lets several of them (the clip
ring, continuous recording, live view) see the same packets in one pass.

A tap is `tap(packets, stream, clock) -> packets`: a generator that yields every packet it is
given, unchanged and in order, and does its own work on the side (keep a reference, queue it for a
writer thread). It runs in the reader's thread, so it must be cheap and must never raise because
of its own trouble: recording and viewing never stop a camera.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import av

from vision.streams.clock import StreamClock

PacketTap = Callable[[Iterator[av.Packet], Any, StreamClock], Iterator[av.Packet]]


def chain_taps(taps: Sequence[PacketTap | None]) -> PacketTap | None:
    """One tap that runs each of `taps` (the Nones left out) in order over the same packets, or
    None when there is none (the reader then skips tapping altogether)."""
    present = [tap for tap in taps if tap is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]

    def chained(packets: Iterator[av.Packet], stream: Any, clock: StreamClock) -> Iterator[av.Packet]:
        flow: Iterator[av.Packet] = packets
        for tap in present:
            flow = tap(flow, stream, clock)
        yield from flow

    return chained
