"""Scale bench: N low-rate RTSP cameras in one `citywatch run`, for M minutes, measured from outside.

    python -m bench.scale --cameras 350 --minutes 10            # the shipped defaults, inline engine
    python -m bench.scale --cameras 64 --minutes 3 --engine ray  # sets `cluster: {engine: ray}`
    python -m bench.scale --cameras 350 --minutes 3 --tree /tmp/scale-before   # another checkout's code

Starts the GStreamer RTSP test server (tests/rtsp/server.py; four paths of one CIF clip, 5 fps, a
keyframe every 10 s), writes a config for N cameras (bench/scale/setup.py) with a fresh SQLite
ledger, runs `citywatch run` from `--tree` (default: this checkout) as a child process and samples
`GET /api/cameras` every `--every` seconds: its latency, camera states and reconnects, and the
process tree's CPU, RSS and threads (psutil). The start of the measured window is the first
sample with every camera online (or `--warmup` seconds, whichever comes first). Prints a Markdown
table; JSON goes to bench/results/scale-<time>.json, the child's log beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.scale.probe import Sample, event_latencies, look, percentile, summarise
from bench.scale.setup import FPS, GOP, HEIGHT, WIDTH, clip, config, server_paths
from tests.rtsp.fixtures import RtspServer
from tests.support import REPO, free_port, wait_healthy

COLUMNS = (
    ("cameras", "cameras"),
    ("engine", "engine"),
    ("code", "label"),
    ("window min", "window_min"),
    ("online %", "online_pct"),
    ("min online", "online_min"),
    ("reconnects after start", "reconnects_after_start"),
    ("/api/cameras p50 ms", "api_p50_ms"),
    ("p99 ms", "api_p99_ms"),
    ("CPU %", "cpu_pct"),
    ("CPU % / camera", "cpu_pct_per_camera"),
    ("RSS MiB", "rss_mb"),
    ("MiB / camera", "rss_mb_per_camera"),
    ("threads", "threads"),
    ("event latency p50 s", "event_latency_p50_s"),
    ("events", "events"),
    ("server CPU %", "server_cpu_pct"),
    ("load 1 min", "load1_median"),
)


def stop_child(process: subprocess.Popen[bytes]) -> None:
    """Terminate a child process, killing it if it has not ended within 30 s."""
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def run_once(args: argparse.Namespace, folder: Path, server: RtspServer) -> dict[str, Any]:
    """One `citywatch run` for `args.minutes`: the samples and their summary."""
    urls = [server.url(name) for name in sorted(server.paths)]
    config_path = folder / "scale.yaml"
    config_path.write_text(yaml.safe_dump(config(folder, urls, args.cameras, args.engine), allow_unicode=True))
    tree = Path(args.tree).resolve()
    pythonpath = os.pathsep.join(filter(None, [str(tree), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": pythonpath, "CITYWATCH_SHARED_DIR": str(REPO.parent / "shared")}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "citywatch.cli", "run", "--config", str(config_path), "--port", str(port)]
    with open(folder / "run.log", "wb") as log:
        process = subprocess.Popen(argv, cwd=tree, env=env, stdout=log, stderr=subprocess.STDOUT)
        samples: list[Sample] = []
        try:
            wait_healthy(base, 180, process, path="/api/cameras")  # answering, even if degraded
            t0 = time.monotonic()
            server_cpu0 = server.cpu_seconds()
            start_t: float | None = None
            with httpx.Client() as client:
                while (now := time.monotonic() - t0) < args.minutes * 60:
                    sample = look(client, base, process.pid, t0)
                    samples.append(sample)
                    if start_t is None and (len(sample.online_ids) == args.cameras or sample.t >= args.warmup):
                        start_t = sample.t
                    if args.verbose:
                        print(
                            f"# t={sample.t:6.1f}s {sample.latency_ms or -1:7.0f} ms {sample.states} "
                            f"reconnects {sample.reconnects} rss {sample.rss_mb:.0f} MiB threads {sample.threads}",
                            flush=True,
                        )
                    time.sleep(max(0.0, args.every - (time.monotonic() - t0 - now)))
            server_cores = (server.cpu_seconds() - server_cpu0) / (time.monotonic() - t0)
        finally:
            stop_child(process)
    summary = summarise(samples, args.cameras, start_t if start_t is not None else 0.0)
    latencies = event_latencies(folder / "citywatch.db")
    summary.update(
        cameras=args.cameras,
        engine=args.engine,
        label=args.label or ("this checkout" if tree == REPO else str(tree)),
        window_min=round(summary.get("window_s", 0) / 60, 1),
        start_s=start_t,
        events=len(latencies),
        event_latency_p50_s=None if not latencies else round(percentile(latencies, 50) or 0, 2),
        event_latency_p90_s=None if not latencies else round(percentile(latencies, 90) or 0, 2),
        server_cpu_pct=round(100 * server_cores, 1),
    )
    return {"summary": summary, "samples": [{**asdict(s), "online_ids": len(s.online_ids)} for s in samples]}


def table(rows: list[dict[str, Any]]) -> str:
    """The summaries as one Markdown table."""
    lines = ["| " + " | ".join(title for title, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(key, "")) for _, key in COLUMNS) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cameras", type=int, nargs="+", default=[350], help="camera counts, one run each")
    parser.add_argument("--minutes", type=float, default=10.0, help="length of each run")
    parser.add_argument("--engine", choices=("inline", "ray"), default="inline")
    parser.add_argument("--tree", default=str(REPO), help="the checkout whose code `citywatch run` runs")
    parser.add_argument("--label", default=None, help="what to call that code in the table")
    parser.add_argument("--every", type=float, default=3.0, help="seconds between samples")
    parser.add_argument("--warmup", type=float, default=60.0, help="latest start of the measured window (s)")
    parser.add_argument("--verbose", "-v", action="store_true", help="print every sample")
    args = parser.parse_args(argv)
    source = clip()
    load_before = os.getloadavg()
    rows: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    with RtspServer(server_paths(source)) as server:
        for cameras in args.cameras:
            with tempfile.TemporaryDirectory(prefix="cw-bench-scale-") as tmp:
                result = run_once(argparse.Namespace(**{**vars(args), "cameras": cameras}), Path(tmp), server)
                log_copy = REPO / "bench" / "results" / f"scale-{datetime.now(UTC):%Y%m%dT%H%M%S}-{cameras}.log"
                log_copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(Path(tmp) / "run.log", log_copy)  # the child's own log, kept
            rows.append(result["summary"])
            runs.append(result)
            print(table(rows[-1:]), flush=True)
    print()
    print(table(rows))
    out = REPO / "bench" / "results" / f"scale-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "python": sys.version.split()[0],
        "stream": f"CIF {WIDTH}x{HEIGHT}, {FPS} fps, GOP {GOP}",
        "args": vars(args),
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }
    out.write_text(json.dumps({"meta": meta, "runs": runs}, indent=1))
    print(f"results: {out.relative_to(REPO)}")
    return 0
