"""Pipeline bench: the all-in cost of a camera beside the decode floor, and replay against a naive loop.

    python -m bench.pipeline                          # both parts: N = 16 and 32, 10-minute replay, 3 repeats
    python -m bench.pipeline --part cameras --cameras 16 --repeats 3 --seconds 45
    python -m bench.pipeline --part replay --minutes 10 --repeats 3
    python -m bench.pipeline --quick                  # N = 16, 20 s windows, 2-minute replay, 1 repeat

Cameras (bench/pipeline/cameras.py): the GStreamer RTSP test server serves a looping D1 clip
(704x576, 25 fps, a keyframe a second, made from vtest.avi); per repeat and N, the bare
keyframe-decode floor and `citywatch run` (shipped defaults, 1 analysed fps, one kerb zone per
camera) run one after the other on the same path, the order alternating between repeats; the ratio
is taken within each repeat and its median reported.

Replay (bench/pipeline/replay.py): the 10-minute vtest loop with a kerb zone (two parked vehicles)
and the busy crossing (bench/pipeline/scenario.py) at 2 analysed fps, through the runtime with the
shipped defaults and through the naive loop (every frame decoded and converted, every sampled frame
detected with onnxruntime's default threads), alternating; the events of the two are compared
(type, zone, label, trigger within one analysis interval) and every difference printed.

Prints Markdown tables; JSON goes to bench/results/pipeline-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
from datetime import UTC, datetime
from typing import Any

import yaml

from bench.ingest.clips import clips
from bench.pipeline.cameras import citywatch_run, keyframe_floor
from bench.pipeline.replay import citywatch_replay, naive
from citywatch.equivalence import compare_events
from tests.rtsp.fixtures import RtspServer
from tests.support import REPO


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def parse_variant(text: str) -> dict[str, Any]:
    """`threads=2,spin=true` -> {"threads": 2, "spin": True} (values read as YAML scalars)."""
    if text == "defaults":
        return {}
    pairs = (item.split("=", 1) for item in text.split(",") if item)
    return {key.strip(): yaml.safe_load(value) for key, value in pairs}


def cameras_part(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Per N and variant: every repeat's floor and all-in cost, and the medians."""
    source = clips()["d1"]
    rows: list[dict[str, Any]] = []
    with RtspServer({"d1": (source, 25)}) as server:
        url = server.url("d1")
        for n in args.cameras:
            for variant in args.variant:
                rows.append(_cameras_row(args, url, n, variant))
    return rows


def _cameras_row(args: argparse.Namespace, url: str, n: int, variant: str) -> dict[str, Any]:
    repeats = []
    for r in range(args.repeats):
        order = ("floor", "citywatch") if r % 2 == 0 else ("citywatch", "floor")
        result: dict[str, Any] = {"load1_before": os.getloadavg()[0]}
        for part in order:
            if part == "floor":
                result["floor"] = keyframe_floor(url, n, args.seconds)
            else:
                result["citywatch"] = citywatch_run(url, n, args.seconds, args.warmup, parse_variant(variant))
        result["ratio"] = result["citywatch"]["cores_per_camera"] / result["floor"]["cores_per_camera"]
        repeats.append(result)
        print(
            f"# N={n} {variant} repeat {r + 1}: all-in {result['citywatch']['cores_per_camera']:.4f} "
            f"floor {result['floor']['cores_per_camera']:.4f} ratio {result['ratio']:.2f} "
            f"load {result['load1_before']:.1f}",
            flush=True,
        )
    cw = [x["citywatch"] for x in repeats]
    return {
        "cameras": n,
        "variant": variant,
        "repeats": repeats,
        "all_in": _median([x["cores_per_camera"] for x in cw]),
        "floor": _median([x["floor"]["cores_per_camera"] for x in repeats]),
        "ratio": _median([x["ratio"] for x in repeats]),
        "ratio_min": min(x["ratio"] for x in repeats),
        "ratio_max": max(x["ratio"] for x in repeats),
        "detections_per_camera_s": _median([x["detections_run_per_camera_s"] for x in cw]),
        "skipped_share": _median([x["detections_skipped_share"] for x in cw]),
        "analysed_fps": _median([x["analysed_fps"] for x in cw]),
        "online_min": min(min(x["online_at_start"], x["online_at_end"]) for x in cw),
        "event_latency_p50_s": _median([x["event_latency_p50_s"] for x in cw if x["event_latency_p50_s"]]),
        "events": _median([x["events"] for x in cw]),
    }


def replay_part(args: argparse.Namespace) -> dict[str, Any]:
    """Every repeat's naive and Citywatch replay, the per-repeat ratios and the event comparison."""
    repeats = []
    for r in range(args.repeats):
        order = ("naive", "naive1", "citywatch", "ungated")
        order = order if r % 2 == 0 else order[::-1]
        result: dict[str, Any] = {}
        for part in order:
            if part == "naive":
                result[part] = naive(args.minutes)
            elif part == "naive1":  # the naive loop with the one-thread, no-spin session Citywatch uses
                result[part] = naive(args.minutes, threads=1)
            else:
                result[part] = citywatch_replay(args.minutes, **({"motion_gating": False} if part == "ungated" else {}))
        result["ratio"] = result["citywatch"]["wall_s"] / result["naive"]["wall_s"]
        result["ungated_ratio"] = result["ungated"]["wall_s"] / result["naive"]["wall_s"]
        result["naive1_ratio"] = result["citywatch"]["wall_s"] / result["naive1"]["wall_s"]
        tolerance = 0.5  # one analysis interval at 2 fps
        result["differences"] = compare_events(result["naive"]["events"], result["citywatch"]["events"], tolerance)
        result["differences"] += compare_events(result["ungated"]["events"], result["citywatch"]["events"], tolerance)
        result["differences"] += compare_events(result["naive1"]["events"], result["citywatch"]["events"], tolerance)
        repeats.append(result)
        print(
            f"# replay repeat {r + 1}: citywatch {result['citywatch']['wall_s']:.1f} s "
            f"({result['citywatch']['detections']} detections) naive {result['naive']['wall_s']:.1f} s "
            f"({result['naive']['detections']}) ratio {result['ratio']:.3f}; "
            f"differences: {result['differences'] or 'none'}",
            flush=True,
        )
    stream_s = repeats[0]["citywatch"]["stream_s"]
    return {
        "minutes": args.minutes,
        "repeats": repeats,
        "citywatch_s": _median([x["citywatch"]["wall_s"] for x in repeats]),
        "naive_s": _median([x["naive"]["wall_s"] for x in repeats]),
        "ratio": _median([x["ratio"] for x in repeats]),
        "ungated_s": _median([x["ungated"]["wall_s"] for x in repeats]),
        "naive1_s": _median([x["naive1"]["wall_s"] for x in repeats]),
        "naive1_ratio": _median([x["naive1_ratio"] for x in repeats]),
        "ungated_ratio": _median([x["ungated_ratio"] for x in repeats]),
        "x_realtime": stream_s / _median([x["citywatch"]["wall_s"] for x in repeats]),
        "events": len(repeats[0]["citywatch"]["events"]),
        "same_events": all(not x["differences"] for x in repeats),
        "detections": repeats[0]["citywatch"]["detections"],
        "naive_detections": repeats[0]["naive"]["detections"],
        "reasons": repeats[0]["citywatch"]["reasons"],
    }


def cameras_table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| N | detector settings | all-in cores/camera | keyframe-decode floor | ratio (median, min-max) "
        "| detections/camera-s | skipped | analysed fps | event latency p50 s |\n|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for row in rows:
        lines.append(
            f"| {row['cameras']} | {row['variant']} | {row['all_in']:.4f} | {row['floor']:.4f} | {row['ratio']:.2f}x "
            f"({row['ratio_min']:.2f}-{row['ratio_max']:.2f}) | {row['detections_per_camera_s']:.3f} "
            f"| {100 * row['skipped_share']:.0f} % | {row['analysed_fps']:.2f} | {row['event_latency_p50_s']} |"
        )
    return "\n".join(lines)


def replay_table(result: dict[str, Any]) -> str:
    ratios = ", ".join(f"{x['ratio']:.3f}" for x in result["repeats"])
    return (
        "| stream | Citywatch s | naive s | ratio (median; each) | every-frame Citywatch s (ratio) "
        "| naive, 1 thread s (ratio) | x real time | detections (naive) | same events |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
        f"| {result['minutes']:g} min | {result['citywatch_s']:.1f} | {result['naive_s']:.1f} | "
        f"{result['ratio']:.3f} ({ratios}) | {result['ungated_s']:.1f} ({result['ungated_ratio']:.2f}) "
        f"| {result['naive1_s']:.1f} ({result['naive1_ratio']:.2f}) | {result['x_realtime']:.0f}x "
        f"| {result['detections']} ({result['naive_detections']}) "
        f"| {'yes' if result['same_events'] else 'NO'} ({result['events']} events) |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("all", "cameras", "replay"), default="all")
    parser.add_argument("--cameras", type=int, nargs="+", default=[16, 32])
    parser.add_argument(
        "--variant",
        action="append",
        default=None,
        help="detector settings to measure beside the floor, e.g. 'threads=2,spin=true' (repeatable; "
        "default: 'defaults', the shipped ones)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=45.0, help="measured window per camera run")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds after all cameras are online")
    parser.add_argument("--minutes", type=float, default=10.0, help="replayed stream minutes")
    parser.add_argument("--quick", action="store_true", help="N = 16, 20 s windows, 2-minute replay, 1 repeat")
    args = parser.parse_args(argv)
    args.variant = args.variant or ["defaults"]
    if args.quick:
        args.cameras, args.seconds, args.minutes, args.repeats = [16], 20.0, 2.0, 1
    meta = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "python": sys.version.split()[0],
        "args": vars(args),
        "load_before": os.getloadavg(),
        "started": datetime.now(UTC).isoformat(),
    }
    out: dict[str, Any] = {"meta": meta}
    if args.part in ("all", "replay"):
        out["replay"] = replay_part(args)
        print(replay_table(out["replay"]), flush=True)
    if args.part in ("all", "cameras"):
        out["cameras"] = cameras_part(args)
        print(cameras_table(out["cameras"]), flush=True)
    meta["load_after"] = os.getloadavg()
    path = REPO / "bench" / "results" / f"pipeline-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1, default=str))
    print(f"results: {path.relative_to(REPO)}")
    same = out.get("replay", {}).get("same_events", True)
    return 0 if same else 1
