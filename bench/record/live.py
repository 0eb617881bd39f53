"""Live-view bench: CPU of a camera's `LiveCamera` tap with nobody watching and with one viewer
(fragmented-MP4 remux in the reader's thread, the fragments drained by a thread standing in for the
WebSocket sender), beside the demux floor, on the D1 camera.

    python -m bench.record --part live --seconds 120 --repeat 5
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from bench.record.tapped import run_tapped
from vision.record.live import LiveCamera


def run_live(path: Path, seconds: float, viewers: int) -> tuple[float, int, int]:
    """(CPU s of the process, packets, bytes the viewers were sent) for `seconds` of stream."""
    live = LiveCamera("bench")
    joined = [live.join() for _ in range(viewers)]
    wake, done, sent = threading.Event(), threading.Event(), [0]
    for viewer in joined:
        viewer.notify = wake.set

    def drain() -> None:  # the socket's side: take what is queued, as the WebSocket sender does
        while not done.is_set():
            wake.wait(0.05)
            wake.clear()
            for viewer in joined:
                sent[0] += sum(len(m) for m in viewer.take() if isinstance(m, bytes))

    sender = threading.Thread(target=drain, daemon=True)
    sender.start()
    start = time.process_time()
    count = run_tapped(path, seconds, live.tap)
    done.set()
    sender.join(5)
    return time.process_time() - start, count, sent[0]


def report(path: Path, seconds: float, repeat: int, run_demux: Callable[[Path, float], tuple[float, int]]) -> None:
    """Print the live-view rows (median of `repeat` runs each) beside the demux floor."""
    rows: dict[str, list[float]] = {"demux (floor)": [], "demux + live, no viewer": [], "demux + live, 1 viewer": []}
    packets = sent = 0
    for _ in range(repeat):
        cpu, packets = run_demux(path, seconds)
        rows["demux (floor)"].append(cpu)
        rows["demux + live, no viewer"].append(run_live(path, seconds, 0)[0])
        cpu, packets, sent = run_live(path, seconds, 1)
        rows["demux + live, 1 viewer"].append(cpu)
    medians = {name: sorted(values)[len(values) // 2] for name, values in rows.items()}
    print(f"D1 704x576 25 fps H.264, {seconds:g} stream s per mode, median of {repeat}\n")
    print("| mode | CPU s per stream s | % of a core | µs per packet |")
    print("|---|---|---|---|")
    for name, cpu in medians.items():
        print(f"| {name} | {cpu / seconds:.5f} | {100 * cpu / seconds:.2f} | {1e6 * cpu / packets:.1f} |")
    extra = medians["demux + live, 1 viewer"] - medians["demux (floor)"]
    print(f"| one viewer alone | {extra / seconds:.5f} | {100 * extra / seconds:.2f} | {1e6 * extra / packets:.1f} |")
    print(f"\none viewer was sent {sent / 2**20:.2f} MiB ({8 * sent / seconds / 1e6:.2f} Mbit/s)")
