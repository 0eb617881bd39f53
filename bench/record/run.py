"""Recording bench: what the event-clip packet ring costs a D1 camera at 25 fps, against the floor.

    python -m bench.record              # 120 stream seconds per mode (a few seconds of CPU)
    python -m bench.record --seconds 600
    python -m bench.record --part continuous   # continuous recording instead (bench/record/continuous.py)
    python -m bench.record --part live         # one live viewer instead (bench/record/live.py)

The D1 clip of bench/ingest (704x576, 25 fps, GOP 1 s, 1.5 Mbit/s H.264, from vtest.avi) is put in
an MP4 (timestamps, as RTSP packets have them) and demuxed in a loop: `demux` reads packets only
(the floor every camera pays), `ring` passes them through `PacketRing.tap` as the reader does with
clips on (`pre_s` 5: a window of 10 s). Then one event clip (5 s + 5 s) is remuxed to MP4 and
fsync'd, as the clip writer does per event. Prints CPU per stream second and per packet.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import av

from bench.ingest.clips import CLIP_DIR, clips
from bench.record.continuous import report as continuous_report
from bench.record.live import report as live_report
from vision.record import Clip, PacketRing, write_clip
from vision.record.ring import RING_SLACK_S
from vision.streams.clock import StreamClock

FPS = 25


def d1_mp4() -> Path:
    """The bench D1 clip in an MP4 (stream copy), made once."""
    out = CLIP_DIR / "d1.mp4"
    if not out.is_file():
        raw = clips()["d1"]
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-r", str(FPS), "-i", str(raw), "-c", "copy", str(out)],
            check=True,
            timeout=120,
        )
    return out


def run_demux(path: Path, seconds: float) -> tuple[float, int]:
    """Packets only, looping the file: the floor every camera pays."""
    count, start = 0, time.process_time()
    while count < seconds * FPS:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            for packet in container.demux(stream):
                if packet.size:
                    count += 1
                    if count >= seconds * FPS:
                        break
    return time.process_time() - start, count


def run_ring(path: Path, seconds: float) -> tuple[float, int, PacketRing]:
    """The same demux, each session's packets through the ring's tap (one tap per session, as the reader)."""
    ring = PacketRing("bench", window_s=5.0 + RING_SLACK_S, on_clip=lambda clip: None)
    clock, count, start = StreamClock(), 0, time.process_time()
    done = 0
    while done < seconds * FPS:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            clock.frame_interval = 1 / FPS
            first = True
            for packet in ring.tap(container.demux(stream), stream, clock):
                if packet.size:
                    if first:
                        clock.stream_time(float(packet.pts * stream.time_base))
                        first = False
                    done += 1
                    count += 1
                    if done >= seconds * FPS:
                        break
        clock.new_session()
    return time.process_time() - start, count, ring


def clip_cost(path: Path) -> tuple[float, float, int]:
    """CPU and wall seconds, and bytes, to remux and fsync one 10 s event clip."""
    clips_out: list[Clip] = []
    ring = PacketRing("bench", window_s=10.0, on_clip=clips_out.append)
    clock = StreamClock()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        clock.frame_interval = 1 / FPS
        for i, packet in enumerate(ring.tap(container.demux(stream), stream, clock)):
            if i == 0:
                clock.stream_time(float(packet.pts * stream.time_base))
            if i == 15 * FPS:
                ring.request("bench", "bench.mp4", trigger_s=15.0, pre_s=5.0, post_s=5.0)
    (clip,) = clips_out
    with tempfile.TemporaryDirectory() as folder:
        cpu, wall = time.process_time(), time.perf_counter()
        written = write_clip(clip, Path(folder) / clip.name)
        return time.process_time() - cpu, time.perf_counter() - wall, written.bytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="stream seconds per mode")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--part", choices=("clips", "continuous", "live"), default="clips")
    args = parser.parse_args()
    path = d1_mp4()
    if args.part == "continuous":
        continuous_report(path, args.seconds, args.repeat, run_demux)
        return
    if args.part == "live":
        live_report(path, args.seconds, args.repeat, run_demux)
        return
    rows = []
    for _ in range(args.repeat):
        demux_cpu, n = run_demux(path, args.seconds)
        ring_cpu, m, ring = run_ring(path, args.seconds)
        rows.append((demux_cpu, ring_cpu, n, m, ring))
    demux_cpu = sorted(r[0] for r in rows)[len(rows) // 2]
    ring_cpu = sorted(r[1] for r in rows)[len(rows) // 2]
    n, ring = rows[0][2], rows[0][4]
    extra = ring_cpu - demux_cpu
    print(f"D1 704x576 25 fps H.264, {args.seconds:g} stream s per mode, median of {args.repeat}\n")
    print("| mode | CPU s per stream s | % of a core | µs per packet |")
    print("|---|---|---|---|")
    for name, cpu in (("demux (floor)", demux_cpu), ("demux + ring", ring_cpu)):
        print(f"| {name} | {cpu / args.seconds:.5f} | {100 * cpu / args.seconds:.2f} | {1e6 * cpu / n:.1f} |")
    print(f"| ring alone | {extra / args.seconds:.5f} | {100 * extra / args.seconds:.2f} | {1e6 * extra / n:.1f} |")
    print(
        f"\nring held {ring.seconds:.1f} s, {ring.bytes / 2**20:.2f} MiB (window {ring.window_s:g} s, keyframe-aligned)"
    )
    cpu, wall, size = clip_cost(path)
    print(f"one 10 s clip: remux + fsync {1e3 * cpu:.1f} ms CPU, {1e3 * wall:.1f} ms wall, {size / 2**20:.2f} MiB")
