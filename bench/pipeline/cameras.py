"""N RTSP cameras through `citywatch run`: its own CPU per camera beside the keyframe-decode floor.

One measurement pairs two processes on the same server path, one after the other: the bare
keyframe-decode loop of `bench.ingest.worker` (`kfloor`: decode each sampled keyframe and convert
it, nothing else; the least any analysis can cost) and `citywatch run` with the scenario's config
(`bench.pipeline.scenario.cameras_config`: shipped defaults). For `citywatch run` the window starts
once every camera is online plus a warm-up, and covers `seconds`; CPU is the process's user +
system time (psutil), detector calls run and skipped come from `/metrics`, event latency (trigger
frame to stored row) from the ledger.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.pipeline.scenario import cameras_config
from bench.scale.probe import event_latencies, percentile, tree_usage
from bench.scale.run import stop_child
from tests.support import REPO, free_port


def keyframe_floor(url: str, cameras: int, seconds: float) -> dict[str, Any]:
    """The `kfloor` loop of `cameras` readers of `url` in a fresh process, over `seconds`."""
    argv = [sys.executable, "-m", "bench.ingest.worker", "--url", url, "--mode", "kfloor"]
    argv += ["--n", str(cameras), "--seconds", str(seconds), "--fps", "1", "--warmup", "5"]
    out = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=seconds + 120, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return {"cores_per_camera": result["cpu_per_cam_s"], "analysed_fps": result["analysed_fps_median"]}


def _detections(base: str) -> dict[str, float]:
    """Detector decisions summed over cameras, from the Prometheus text of `/metrics`."""
    totals = {"run": 0.0, "skipped": 0.0}
    for line in httpx.get(f"{base}/metrics", timeout=30).text.splitlines():
        if line.startswith("citywatch_detections_total{"):
            for decision in totals:
                if f'decision="{decision}"' in line:
                    totals[decision] += float(line.rsplit(" ", 1)[1])
    return totals


def _cameras_online(base: str) -> tuple[int, float]:
    body = httpx.get(f"{base}/api/cameras", timeout=30).json()
    items = body["items"] if isinstance(body, dict) and "items" in body else body
    online = [c for c in items if (c.get("health") or {}).get("state") == "online" or c.get("state") == "online"]
    fps = sorted(float((c.get("health") or c).get("analysed_fps") or 0.0) for c in online)
    return len(online), fps[len(fps) // 2] if fps else 0.0


def citywatch_run(
    url: str, cameras: int, seconds: float, warmup_s: float, detector: dict[str, Any] | None = None, tree: Path = REPO
) -> dict[str, Any]:
    """`citywatch run` over `cameras` cameras of `url` (`detector`: overrides of the shipped
    defaults, for a variant): CPU per camera, detections, event latency."""
    with tempfile.TemporaryDirectory(prefix="cw-bench-pipeline-") as tmp:
        folder = Path(tmp)
        config_path = folder / "pipeline.yaml"
        config_path.write_text(yaml.safe_dump(cameras_config(folder, url, cameras, **(detector or {}))))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {**os.environ, "PYTHONPATH": str(tree), "CITYWATCH_SHARED_DIR": str(REPO.parent / "shared")}
        argv = [sys.executable, "-m", "citywatch.cli", "run", "--config", str(config_path), "--port", str(port)]
        with open(folder / "run.log", "wb") as log:
            process = subprocess.Popen(argv, cwd=tree, env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                deadline = time.monotonic() + 120
                online = 0
                while time.monotonic() < deadline:
                    if process.poll() is not None:
                        raise RuntimeError(f"citywatch run exited with {process.returncode}: see {folder}/run.log")
                    try:
                        online, _ = _cameras_online(base)
                    except (httpx.HTTPError, ValueError, KeyError):
                        online = 0
                    if online == cameras:
                        break
                    time.sleep(1.0)
                time.sleep(warmup_s)
                cpu0, _, _ = tree_usage(process.pid)
                det0, t0 = _detections(base), time.monotonic()
                time.sleep(seconds)
                cpu1, rss, threads = tree_usage(process.pid)
                det1, t1 = _detections(base), time.monotonic()
                online_end, fps = _cameras_online(base)
            finally:
                stop_child(process)
        latencies = event_latencies(folder / "citywatch.db")
    span = t1 - t0
    run, skipped = det1["run"] - det0["run"], det1["skipped"] - det0["skipped"]
    return {
        "cores_per_camera": (cpu1 - cpu0) / span / cameras,
        "online_at_start": online,
        "online_at_end": online_end,
        "analysed_fps": fps,
        "detections_run_per_camera_s": run / span / cameras,
        "detections_skipped_share": skipped / (run + skipped) if run + skipped else 0.0,
        "rss_mib": rss,
        "threads": threads,
        "events": len(latencies),
        "event_latency_p50_s": percentile(latencies, 50),
        "event_latency_max_s": max(latencies) if latencies else None,
    }
