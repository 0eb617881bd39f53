"""Exports: a time range of a camera's continuous segments joined into one MP4 by stream copy.

`export_range` takes the segments that cover the range, each with the media offsets to keep
(`Cut`), and remuxes their packets one after the other into a single `faststart` MP4 (never
re-encoded): it starts at the last keyframe at or before the range's start (a decoder needs it)
and ends with the last packet before the range's end. The file is written to a `.part`, fsync'd
and renamed, like an event clip; the caller writes the row that points to it afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from vision.record.clip import _fsync_dir, _open_output
from vision.record.ring import StreamTemplate


@dataclass(frozen=True)
class Cut:
    """One segment file and the part of it to keep, in seconds from its first packet."""

    path: Path
    from_s: float
    to_s: float


@dataclass(frozen=True)
class ExportFile:
    """The exported MP4: its size, container format, packets, and the seconds kept from the first
    cut's start (the keyframe it begins on may lie before the range asked for: `lead_s`)."""

    path: Path
    bytes: int
    format: str
    packets: int
    duration_s: float
    lead_s: float


def _template(path: Path) -> StreamTemplate:
    with av.open(str(path)) as container:
        return StreamTemplate(container.streams.video[0])


def _packets(cut: Cut) -> Iterator[tuple[av.Packet, int, int, Fraction]]:
    """The packets of `cut` (with pts, dts relative to the file's first packet, and the file's
    time base) from the last keyframe at or before `from_s` up to `to_s`, read as they are muxed:
    only the group of pictures before `from_s` is ever held."""
    with av.open(str(cut.path)) as container:
        stream = container.streams.video[0]
        time_base = stream.time_base or Fraction(1, 90000)
        gop: list[tuple[av.Packet, int, int, Fraction]] = []
        started = False
        base: int | None = None
        for packet in container.demux(stream):
            if not packet.size:
                continue
            pts = packet.pts if packet.pts is not None else packet.dts
            dts = packet.dts if packet.dts is not None else pts
            if pts is None or dts is None:
                continue
            base = dts if base is None else base
            at = float((pts - base) * time_base)
            if at >= cut.to_s:
                break
            if not started and packet.is_keyframe and at <= cut.from_s:
                gop = []  # a later keyframe still before the start: begin there
            if started:
                yield _copy(packet), pts - base, dts - base, time_base
            elif packet.is_keyframe or gop:
                gop.append((_copy(packet), pts - base, dts - base, time_base))
                if at >= cut.from_s:
                    started = True
                    yield from gop
                    gop = []
        yield from gop  # a cut that ends before its start time is reached (its last GOP)


def _copy(packet: av.Packet) -> av.Packet:
    copy = av.Packet(bytes(packet))
    copy.is_keyframe = bool(packet.is_keyframe)
    return copy


def export_range(cuts: list[Cut], path: Path, *, title: str = "") -> ExportFile:
    """Join `cuts` into `path` durably, packet by packet (memory holds one group of pictures).
    Raises `ValueError` when they hold no packet (or mix codecs), `OSError` or `av.FFmpegError`
    when reading or writing fails (the `.part` is removed)."""
    if not cuts:
        raise ValueError("no recorded video in the range")
    template = _template(cuts[0].path)
    path.parent.mkdir(parents=True, exist_ok=True)
    part_path = path.with_name(path.name + ".part")
    time_base = template.time_base
    packets, offset, last_dts = 0, 0, -1
    lead_s: float | None = None
    try:
        output, stream, fmt = _open_output(part_path, template)
        if title:
            output.metadata["title"] = title
        with output:
            for cut in cuts:
                if _template(cut.path).codec != template.codec:
                    raise ValueError("the range spans recordings of different codecs")
                end = offset
                shift: int | None = None  # each cut starts at the output's offset (its first dts)
                for packet, pts, dts, base in _packets(cut):
                    if lead_s is None:
                        lead_s = max(0.0, cut.from_s - float(pts * base))
                    shift = dts if shift is None else shift
                    scale = base / time_base  # each file's own time base, onto the first's
                    out_dts = max(offset + round((dts - shift) * scale), last_dts + 1)  # increasing across joins
                    packet.dts, packet.pts = out_dts, max(offset + round((pts - shift) * scale), out_dts)
                    packet.time_base = time_base
                    packet.stream = stream
                    output.mux(packet)
                    last_dts = out_dts
                    end = max(end, packet.pts + max(1, round((packet.duration or 0) * scale)))
                    packets += 1
                offset = max(end, last_dts + 1)
            if not packets:
                raise ValueError("no recorded video in the range")
        with open(part_path, "rb") as written:
            os.fsync(written.fileno())
        os.replace(part_path, path)
        _fsync_dir(path.parent)
    except BaseException:
        part_path.unlink(missing_ok=True)
        raise
    return ExportFile(path, path.stat().st_size, fmt, packets, float(offset * time_base), lead_s or 0.0)
