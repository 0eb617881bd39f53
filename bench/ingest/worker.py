"""One bench measurement in a fresh process: N readers of one RTSP URL, CPU and fps over a window.

Modes: `demux` (read packets only: the floor), `kfloor` (a bare loop decoding keyframes and
converting the sampled ones: the keyframe-decode floor), `keyframes` and `all` (StreamReader with
that decode strategy, a LatestFrameSlot and a consumer thread per camera). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import threading
import time

import av

from citywatch.config import CameraConfig
from vision.streams import StreamReader, open_container


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Bare:
    """The floors: a minimal reader thread with counters."""

    def __init__(self, url: str, mode: str, fps: float):
        self.url, self.mode, self.fps = url, mode, fps
        self.frames_in = 0
        self.sampled = 0
        self.stop = False
        threading.Thread(target=self.run, daemon=True).start()

    def run(self) -> None:
        while not self.stop:
            try:
                container = open_container(self.url)
            except Exception:
                time.sleep(0.5)
                continue
            stream = container.streams.video[0]
            stream.codec_context.thread_count = 1
            tb = float(stream.time_base)
            last_bucket = -1
            try:
                for packet in container.demux(stream):
                    if self.stop:
                        break
                    self.frames_in += 1
                    if self.mode == "kfloor" and packet.is_keyframe and packet.pts is not None:
                        bucket = math.floor(packet.pts * tb * self.fps)
                        if bucket > last_bucket:
                            last_bucket = bucket
                            for frame in stream.codec_context.decode(packet):
                                frame.to_ndarray(format="bgr24")
                                self.sampled += 1
            except av.FFmpegError:
                pass
            finally:
                container.close()


class Reader:
    """A StreamReader in its thread, plus a consumer taking the newest frame."""

    def __init__(self, index: int, url: str, mode: str, fps: float):
        self.reader = StreamReader(CameraConfig(id=f"c{index}", url=url, analysis_fps=fps, decode=mode))
        slot = self.reader.start()

        def consume() -> None:
            while not self.reader.stopped:
                if slot.get(timeout=0.5) is not None:
                    self.reader.health.mark(analysed=1)

        threading.Thread(target=consume, daemon=True).start()

    @property
    def frames_in(self) -> int:
        return self.reader.health.frames_in

    @property
    def sampled(self) -> int:
        return self.reader.health.frames_analysed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--mode", choices=["demux", "kfloor", "keyframes", "all"], required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--fps", type=float, default=1.0, help="analysis fps")
    parser.add_argument("--source-fps", type=float, default=25.0)
    parser.add_argument("--warmup", type=float, default=4.0)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    if args.mode in ("demux", "kfloor"):
        cams: list = [Bare(args.url, args.mode, args.fps) for _ in range(args.n)]
    else:
        cams = [Reader(i, args.url, args.mode, args.fps) for i in range(args.n)]
    time.sleep(args.warmup)
    cpu0, wall0 = _cpu(), time.monotonic()
    in0 = [c.frames_in for c in cams]
    s0 = [c.sampled for c in cams]
    time.sleep(args.seconds)
    cpu1, wall1 = _cpu(), time.monotonic()
    in1 = [c.frames_in for c in cams]
    s1 = [c.sampled for c in cams]
    span = wall1 - wall0
    input_fps = sorted((b - a) / span for a, b in zip(in0, in1, strict=True))
    analysed = sorted((b - a) / span for a, b in zip(s0, s1, strict=True))
    print(
        json.dumps(
            {
                "cpu_s": cpu1 - cpu0,
                "wall_s": span,
                "n": args.n,
                "cpu_per_cam_s": (cpu1 - cpu0) / span / args.n,
                "cpu_per_stream_s": (cpu1 - cpu0) / max(1e-9, (sum(in1) - sum(in0)) / args.source_fps),
                "input_fps_median": input_fps[len(input_fps) // 2],
                "input_fps_min": input_fps[0],
                "analysed_fps_median": analysed[len(analysed) // 2],
                "analysed_fps_min": analysed[0],
            }
        ),
        flush=True,
    )
    os._exit(0)  # readers are daemon threads blocked in I/O: leave at once


if __name__ == "__main__":
    main()
