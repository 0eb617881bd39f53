"""Continuous-recording bench: CPU of `SegmentRecorder` (tap + writer thread, fragmented MP4,
fsync per segment) on the D1 camera beside the demux floor, and disk bytes per camera-hour.

    python -m bench.record --part continuous --seconds 120 --repeat 5
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.record.tapped import run_tapped
from vision.record.segments import SegmentRecorder


def run_continuous(path: Path, seconds: float, segment_s: float = 10.0) -> tuple[float, int, int, int]:
    """(CPU s of the whole process, packets, segments, bytes written) for `seconds` of stream."""
    with tempfile.TemporaryDirectory() as folder:
        recorder = SegmentRecorder("bench", Path(folder), segment_s=segment_s)
        start = time.process_time()
        count = run_tapped(path, seconds, recorder.tap)
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
