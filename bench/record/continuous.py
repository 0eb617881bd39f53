"""Continuous-recording bench: CPU of `SegmentRecorder` (tap + writer thread, fragmented MP4,
fsync per segment) on the D1 camera beside the demux floor, and disk bytes per camera-hour.

    python -m bench.record --part continuous --seconds 120 --repeat 5
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av

from vision.record.segments import SegmentRecorder
from vision.streams.clock import StreamClock

FPS = 25


def run_continuous(path: Path, seconds: float, segment_s: float = 10.0) -> tuple[float, int, int, int]:
    """(CPU s of the whole process, packets, segments, bytes written) for `seconds` of stream."""
    with tempfile.TemporaryDirectory() as folder:
        recorder = SegmentRecorder("bench", Path(folder), segment_s=segment_s)
        clock, count, start = StreamClock(), 0, time.process_time()
        while count < seconds * FPS:
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                clock.frame_interval = 1 / FPS
                first = True
                for packet in recorder.tap(container.demux(stream), stream, clock):
                    if packet.size:
                        if first:
                            clock.stream_time(float(packet.pts * stream.time_base))
                            first = False
                        count += 1
                        if count >= seconds * FPS:
                            break
            clock.new_session()
        recorder.close()
        cpu = time.process_time() - start
        written = sum(p.stat().st_size for p in Path(folder).rglob("*.mp4"))
        return cpu, count, recorder.written, written


def report(path: Path, seconds: float, repeat: int, run_demux: Callable[[Path, float], tuple[float, int]]) -> None:
    """Print the continuous-recording rows (median of `repeat` runs each) beside the demux floor."""
    floors, recorded = [], []
    packets = segments = size = 0
    for _ in range(repeat):
        floors.append(run_demux(path, seconds)[0])
        cpu, packets, segments, size = run_continuous(path, seconds)
        recorded.append(cpu)
    floor, cpu = sorted(floors)[len(floors) // 2], sorted(recorded)[len(recorded) // 2]
    print(f"D1 704x576 25 fps H.264, {seconds:g} stream s per mode, median of {repeat}\n")
    print("| mode | CPU s per stream s | % of a core | µs per packet |")
    print("|---|---|---|---|")
    rows = (("demux (floor)", floor), ("demux + continuous", cpu), ("continuous alone", cpu - floor))
    for name, used in rows:
        print(f"| {name} | {used / seconds:.5f} | {100 * used / seconds:.2f} | {1e6 * used / packets:.1f} |")
    print(f"\n{segments} segment(s), {size / 2**20:.2f} MiB: {size * 3600 / seconds / 1e9:.3f} GB per camera-hour")
