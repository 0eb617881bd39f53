"""Ingest bench: N looping RTSP cameras, CPU-seconds per camera-second and analysed fps.

    python -m bench.ingest            # full: D1 and 1080p, N = 16, 64, 128 (about 10 minutes)
    python -m bench.ingest --quick    # D1, N = 16 (about 1 minute)

Starts the GStreamer RTSP test server (tests/rtsp/server.py) with D1 and 1080p clips (GOP 1 s,
25 fps), then, for each resolution and N, runs each mode in a fresh process (bench/ingest/worker.py):
`demux` (packets only), `kfloor` (bare keyframe decode + conversion: the keyframe floor),
`keyframes` and `all` (the StreamReader strategies), all at 1 analysed frame per second; plus
`all`/`keyframes` split over several processes. Prints a Markdown table (medians over --repeat).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.ingest.clips import FPS, clips
from tests.rtsp.fixtures import RtspServer
from tests.support import REPO


def measure(url: str, mode: str, n: int, seconds: float, procs: int = 1) -> dict:
    """Run `n` cameras of `mode` split over `procs` worker processes; sum their CPU."""
    share = [n // procs + (1 if i < n % procs else 0) for i in range(procs)]
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.ingest.worker",
                "--url",
                url,
                "--mode",
                mode,
                "--n",
                str(k),
                "--seconds",
                str(seconds),
                "--source-fps",
                str(FPS),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        for k in share
    ]
    outputs = [child.communicate(timeout=seconds + 120)[0] for child in children]
    results = [json.loads(out.strip().splitlines()[-1]) for out in outputs]
    cpu = sum(r["cpu_s"] for r in results)
    span = statistics.mean(r["wall_s"] for r in results)
    stream_s = sum(r["cpu_s"] / r["cpu_per_stream_s"] for r in results if r["cpu_per_stream_s"] > 0)
    return {
        "cpu_per_cam_s": cpu / span / n,
        "cpu_per_stream_s": cpu / stream_s if stream_s else float("nan"),
        "cores": cpu / span,
        "input_fps": min(r["input_fps_median"] for r in results),
        "input_fps_min": min(r["input_fps_min"] for r in results),
        "analysed_fps": min(r["analysed_fps_median"] for r in results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="D1 only, N=16, short windows")
    parser.add_argument("--n", type=int, nargs="*", default=None, help="camera counts (default 16 64 128)")
    parser.add_argument("--res", nargs="*", default=None, help="resolutions (d1 1080p)")
    parser.add_argument("--seconds", type=float, default=None, help="measurement window per run")
    parser.add_argument("--repeat", type=int, default=1, help="runs per cell; the table gives medians")
    parser.add_argument("--procs", type=int, default=2, help="processes for the multi-process rows")
    args = parser.parse_args()
    ns = args.n or ([16] if args.quick else [16, 64, 128])
    resolutions = args.res or (["d1"] if args.quick else ["d1", "1080p"])
    seconds = args.seconds or (5.0 if args.quick else 8.0)
    files = clips()
    server = RtspServer({name: (files[name], FPS) for name in resolutions}).start()
    print(
        f"# machine: {os.cpu_count()} cores; server pid {server.proc.pid if server.proc else '?'}; "
        f"clips {', '.join(resolutions)} at {FPS} fps, GOP {FPS}; 1 analysed fps; window {seconds:g}s",
        flush=True,
    )
    rows = []
    header = (
        "| res | N | mode | procs | CPU-s per camera-s | cores used | input fps/cam (median, min) "
        "| analysed fps/cam | server cores | load avg |"
    )
    print(header + "\n|---|---|---|---|---|---|---|---|---|---|", flush=True)
    saturated: set[tuple[str, str]] = set()
    try:
        for res in resolutions:
            url = server.url(res)
            for n in ns:
                plan = [("demux", 1), ("kfloor", 1), ("keyframes", 1), ("all", 1)]
                if n >= 64:
                    plan += [("keyframes", args.procs), ("all", args.procs)]
                for mode, procs in plan:
                    if (res, mode, procs) in saturated:
                        print(f"| {res} | {n} | {mode} | {procs} | skipped: saturated at a smaller N |", flush=True)
                        continue
                    runs = []
                    for _ in range(args.repeat):
                        s0, t0 = server.cpu_seconds(), time.monotonic()
                        result = measure(url, mode, n, seconds, procs)
                        result["server_cores"] = (server.cpu_seconds() - s0) / (time.monotonic() - t0)
                        runs.append(result)
                    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
                    rows.append({"res": res, "n": n, "mode": mode, "procs": procs, **med})
                    print(
                        f"| {res} | {n} | {mode} | {procs} | {med['cpu_per_cam_s']:.4f} "
                        f"| {med['cores']:.2f} "
                        f"| {med['input_fps']:.1f}, {med['input_fps_min']:.1f} | {med['analysed_fps']:.2f} "
                        f"| {med['server_cores']:.2f} | {os.getloadavg()[0]:.1f} |",
                        flush=True,
                    )
                    if med["input_fps"] < FPS * 0.8:  # falling behind: a larger N will not fit either
                        saturated.add((res, mode, procs))
    finally:
        server.kill()
    out = Path(os.environ.get("CITYWATCH_BENCH_OUT", "/tmp/citywatch-bench/ingest-results.json"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=1))
    print(f"# results: {out}")


if __name__ == "__main__":
    main()
