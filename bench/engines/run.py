"""Inference engines on this CPU with the shipped model: CPU and wall time per frame, and accuracy.

    python -m bench.engines [--quick] [--frames N] [--repeats R] [--calibration-frames C]

One run, on the same frames (sampled from vtest.avi and car-detection.mp4, letterboxed once):
onnxruntime (intra-op threads 1 and 2, spinning on/off, graph optimisation BASIC/EXTENDED/ALL),
OpenVINO's CPU plugin (1 thread and the plugin's default, LATENCY hint, FP32 and its bf16 default;
skipped with a line when `openvino` is not installed), INT8 variants of the export (every recipe
tried, calibrated on other frames of the same footage) and the dynamic-batch export at batch 1, 4
and 8. Engines are interleaved within each repeat (rotating which goes first); the table gives
medians over repeats of process CPU ms per frame (every thread of the process: what other cameras
lose), wall ms per frame, and each repeat's CPU ratio to onnxruntime at 1 thread. Accuracy: each
engine's decoded boxes (the project's decode) against FP32 onnxruntime's, vehicles and people
scoring >= 0.3, recall / precision at IoU 0.5 and the mean IoU of matched boxes. JSON goes to
bench/results/engines-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from citywatch.modelstore import coco_class_names
from tests.support import MODEL_DIR, SHARED, VTEST
from vision.detect.agreement import agreement
from vision.detect.backends.yolox_onnx import decode, letterbox, make_grid
from vision.detect.variants import Int8Recipe, dynamic_batch, footage_frames, quantize_int8

CARS = SHARED / "media" / "car-detection.mp4"
RESULTS = Path(__file__).resolve().parents[1] / "results"
SIZE = 416
OPT_LEVELS = {
    "BASIC": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "EXTENDED": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "ALL": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}
#: Every INT8 recipe tried, the naive ones first (kept in the table: they are the cautionary tale).
RECIPES = (
    Int8Recipe(exclude="none", activations="int8", preprocess=False),
    Int8Recipe(exclude="none", activations="uint8", preprocess=False),
    Int8Recipe(exclude="tail"),
    Int8Recipe(exclude="head"),
    Int8Recipe(exclude="stem"),
    Int8Recipe(exclude="head", calibration="moving"),
    Int8Recipe(exclude="head", calibration="entropy"),
    Int8Recipe(exclude="head", calibration="percentile"),
    Int8Recipe(exclude="early", calibration="moving"),
    Int8Recipe(method="dynamic", exclude="head", per_channel=False),
)
Infer = Callable[[np.ndarray], np.ndarray]  # a [B, 3, S, S] batch -> [B, N, 85] raw predictions


@dataclass
class Engine:
    """One engine/option set: a model call, the batch it is fed, and where its model came from."""

    name: str
    infer: Infer
    batch: int = 1
    note: str = ""


def ort_engine(path: Path, threads: int, spin: bool, level: str = "ALL") -> Infer:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = OPT_LEVELS[level]
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda batch: session.run(None, {name: batch})[0]


def openvino_engine(path: Path, threads: int | None, precision: str | None) -> Infer:
    # deferred: OpenVINO is an optional extra; the bench skips its rows without it
    from vision.detect.backends.openvino_backend import OpenVinoBackend

    backend = OpenVinoBackend(path, None, threads, 0.3, 0.45, precision=precision)
    return lambda batch: np.stack(backend.infer(list(batch)))


def build_engines(work: Path, calibration: list[np.ndarray], say: Callable[[str], None]) -> list[Engine]:
    source = MODEL_DIR / "yolox_nano.onnx"
    engines = [Engine("ort 1 thread, ALL", ort_engine(source, 1, False), note="reference")]
    engines += [Engine(f"ort 1 thread, {lvl}", ort_engine(source, 1, False, lvl)) for lvl in ("BASIC", "EXTENDED")]
    engines += [Engine(f"ort 2 threads, spin {'on' if s else 'off'}", ort_engine(source, 2, s)) for s in (True, False)]
    try:
        import openvino  # noqa: F401  # deferred: only to decide whether OpenVINO rows run
    except ImportError:
        say("openvino not installed (pip install 'citywatch[openvino]'): OpenVINO rows skipped")
    else:
        for threads in (1, None):
            for precision in ("f32", None):
                label = f"openvino {'1 thread' if threads else 'default threads'}, {precision or 'plugin default'}"
                engines.append(Engine(label, openvino_engine(source, threads, precision)))
    best_int8: Path | None = None
    for recipe in RECIPES:
        target = work / f"{recipe.name}.onnx"
        started = time.perf_counter()
        try:
            quantize_int8(source, target, calibration, SIZE, recipe)
            engines.append(Engine(f"ort 1 thread, {recipe.name}", ort_engine(target, 1, False)))
        except Exception as exc:  # a broken recipe is a result, reported in the table
            say(f"{recipe.name}: failed to build or load: {str(exc)[:200]}")
            continue
        say(f"{recipe.name}: quantised in {time.perf_counter() - started:.1f} s")
        if recipe.exclude == "early":
            best_int8 = target
    if best_int8 is not None and any(e.name.startswith("openvino") for e in engines):
        engines.append(Engine(f"openvino 1 thread, {best_int8.stem}", openvino_engine(best_int8, 1, "f32")))
    dynamic = work / "yolox_nano.dynamic.onnx"
    fixed = dynamic_batch(source, dynamic)
    say(f"dynamic batch: rewrote {len(fixed)} reshape(s) that baked in batch 1: {', '.join(fixed)}")
    for batch in (1, 4, 8):
        engines.append(Engine(f"ort 1 thread, dynamic batch {batch}", ort_engine(dynamic, 1, False), batch=batch))
    return engines


def run_all(engine: Engine, tensors: np.ndarray) -> list[np.ndarray]:
    out: list[np.ndarray] = []
    for start in range(0, len(tensors), engine.batch):
        raw = engine.infer(tensors[start : start + engine.batch])
        out.extend(raw)
    return out


def timed(engine: Engine, tensors: np.ndarray) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one pass over `tensors`."""
    cpu, wall = time.process_time(), time.perf_counter()
    run_all(engine, tensors)
    return time.process_time() - cpu, time.perf_counter() - wall


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="40 frames, 3 repeats, 16 calibration frames")
    parser.add_argument("--frames", type=int, default=None, help="frames per video (default 60; quick 20)")
    parser.add_argument("--repeats", type=int, default=None, help="default 3")
    parser.add_argument("--calibration-frames", type=int, default=None, help="per video (default 16; quick 8)")
    args = parser.parse_args(argv)
    per_video = args.frames or (20 if args.quick else 60)
    repeats = max(3, args.repeats or 3)
    per_video_cal = args.calibration_frames or (8 if args.quick else 16)
    say = print
    # Measured frames and calibration frames are disjoint (different offsets in the same footage).
    frames = footage_frames(VTEST, per_video, every=795 // per_video) + footage_frames(
        CARS, per_video, every=377 // per_video
    )
    calibration = footage_frames(VTEST, per_video_cal, every=795 // per_video_cal, offset=3) + footage_frames(
        CARS, per_video_cal, every=377 // per_video_cal, offset=2
    )
    prepared = [letterbox(frame, SIZE) for frame in frames]
    tensors = np.stack([tensor for tensor, _ in prepared])
    ratios = [ratio for _, ratio in prepared]
    grid, strides = make_grid(SIZE)
    class_names = coco_class_names()

    with tempfile.TemporaryDirectory(prefix="citywatch-engines-") as work:
        engines = build_engines(Path(work), calibration, say)
        accuracy = {}
        reference = None
        for engine in engines:  # accuracy pass (also the warm-up)
            raws = run_all(engine, tensors)
            detections = [decode(r, grid, strides, q, 0.3, 0.45) for r, q in zip(raws, ratios, strict=True)]
            reference = reference or detections
            accuracy[engine.name] = agreement(reference, detections, class_names).as_dict()
        load_before = os.getloadavg()[0]
        cpu: dict[str, list[float]] = {e.name: [] for e in engines}
        wall: dict[str, list[float]] = {e.name: [] for e in engines}
        ratio: dict[str, list[float]] = {e.name: [] for e in engines}
        for rep in range(repeats):
            order = engines[rep % len(engines) :] + engines[: rep % len(engines)]
            for engine in order:
                c, w = timed(engine, tensors)
                cpu[engine.name].append(1000 * c / len(tensors))
                wall[engine.name].append(1000 * w / len(tensors))
            for engine in engines:  # per-repeat ratio: robust to load drifting between repeats
                ratio[engine.name].append(cpu[engine.name][-1] / cpu[engines[0].name][-1])
        load_after = os.getloadavg()[0]

    header = (
        f"# {platform.machine()}, {os.cpu_count()} CPUs, onnxruntime {ort.__version__}, "
        f"{_openvino_version()}, {len(tensors)} frames ({per_video} each of {VTEST.name}, {CARS.name}), "
        f"{len(calibration)} calibration frames, {repeats} repeats, load average {load_before:.1f} -> {load_after:.1f}"
    )
    print(header)
    print("| engine / options | CPU ms/frame | wall ms/frame | CPU vs ort 1 thread | recall | precision | mean IoU |")
    print("|---|---|---|---|---|---|---|")
    rows = []
    for engine in engines:
        med_cpu, med_wall = statistics.median(cpu[engine.name]), statistics.median(wall[engine.name])
        med_ratio, acc = statistics.median(ratio[engine.name]), accuracy[engine.name]
        rows.append({"engine": engine.name, "cpu_ms": med_cpu, "wall_ms": med_wall, "ratio": med_ratio, **acc})
        spread = f"{min(cpu[engine.name]):.1f}..{max(cpu[engine.name]):.1f}"
        print(
            f"| {engine.name} | {med_cpu:.2f} ({spread}) | {med_wall:.2f} | {med_ratio:.2f} | "
            f"{acc['recall']:.3f} | {acc['precision']:.3f} | {acc['mean_iou']:.3f} |"
        )
    print(f"(reference: {engines[0].name}, FP32, {accuracy[engines[0].name]['reference_boxes']} boxes)")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"engines-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"header": header, "rows": rows, "raw_cpu_ms": cpu}, indent=1), encoding="utf-8")
    print(f"results: {out}")
    return 0


def _openvino_version() -> str:
    try:
        import openvino  # deferred: optional extra
    except ImportError:
        return "no openvino"
    return f"openvino {openvino.__version__}"
