"""Soak: 32 live RTSP cameras for --minutes, printing RSS and health over time (flat memory?).

    python -m bench.ingest.soak --minutes 30

16 cameras decode keyframes only (1 fps), 16 decode all frames (2 fps), all D1 25 fps from the
GStreamer test server; 4 of them read a path that stalls for 8 s every minute, so the reconnect
path runs too. Every --every seconds it prints elapsed time, RSS (MiB), threads, total frames
analysed, drops and reconnects. RSS growth after the first sample is summarised at the end.
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path

from bench.ingest.clips import FPS, clips
from citywatch.config import CameraConfig
from tests.rtsp.fixtures import RtspServer
from vision.streams import StreamReader


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--cameras", type=int, default=32)
    parser.add_argument("--every", type=float, default=30.0, help="seconds between samples")
    args = parser.parse_args()
    d1 = clips()["d1"]
    server = RtspServer({"steady": (d1, FPS), "flaky": (d1, FPS)}).start()
    readers = []
    for i in range(args.cameras):
        keyframes = i % 2 == 0
        path = "flaky" if i < 4 else "steady"
        camera = CameraConfig(
            id=f"soak{i}",
            url=server.url(path),
            analysis_fps=1.0 if keyframes else 2.0,
            decode="keyframes" if keyframes else "all",
        )
        reader = StreamReader(camera)
        slot = reader.start()

        def consume(reader: StreamReader = reader, slot=slot) -> None:  # type: ignore[no-untyped-def]
            while not reader.stopped:
                if slot.get(timeout=0.5) is not None:
                    reader.health.mark(analysed=1)

        threading.Thread(target=consume, daemon=True).start()
        readers.append(reader)
    start = time.monotonic()
    end = start + args.minutes * 60
    next_stall = start + 60
    samples = []
    print("| minute | RSS MiB | threads | analysed frames | dropped | reconnects | online |", flush=True)
    print("|---|---|---|---|---|---|---|", flush=True)
    next_sample = start + 10
    try:
        while time.monotonic() < end:
            now = time.monotonic()
            if now >= next_stall:
                server.stall("flaky")
                time.sleep(8)
                server.resume("flaky")
                next_stall += 60
            if now >= next_sample:
                rss = rss_mib()
                samples.append((now - start, rss))
                analysed = sum(r.health.frames_analysed for r in readers)
                dropped = sum(r.health.frames_dropped for r in readers)
                reconnects = sum(r.health.reconnects for r in readers)
                online = sum(r.health.state == "online" for r in readers)
                print(
                    f"| {(now - start) / 60:.1f} | {rss:.1f} | {threading.active_count()} | {analysed} "
                    f"| {dropped} | {reconnects} | {online}/{len(readers)} |",
                    flush=True,
                )
                next_sample += args.every
            time.sleep(0.5)
    finally:
        for reader in readers:
            reader.stop()
        server.kill()
    if len(samples) >= 2:
        first, last = samples[0][1], samples[-1][1]
        peak = max(s[1] for s in samples)
        print(
            f"# RSS first {first:.1f} MiB, last {last:.1f} MiB, peak {peak:.1f} MiB, "
            f"growth {last - first:+.1f} MiB over {(samples[-1][0] - samples[0][0]) / 60:.1f} min",
            flush=True,
        )


if __name__ == "__main__":
    main()
