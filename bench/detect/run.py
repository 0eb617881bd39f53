"""Detection throughput on real footage: bare onnxruntime vs Citywatch's path vs a naive loop.

    python bench/detect/run.py [--quick] [--frames N] [--repeats R] [--cameras C] [--threads T]

All modes run the same frames (vtest.avi sampled at 2 fps) through the same onnxruntime session of
yolox_nano.onnx, interleaved within each repeat; the table gives median frames/s over repeats and
each mode's ratio to bare onnxruntime.

- `bare-ort`: `session.run` on tensors letterboxed beforehand (model time only; the ceiling).
- `citywatch-bN`: `BatchingDetector(max_batch=N)` fed by C camera threads calling
  `detect(camera_id, image)`: letterbox, queueing, inference, decode, NMS, label mapping and
  car/truck merging, everything a camera gets.
- `citywatch-direct`: `Detector.detect([image])` in one thread (no queue).
- `naive-loop`: one frame at a time as the YOLOX ONNX demo (`demo/ONNXRuntime/onnx_inference.py`)
  does it: fresh float canvas per frame, grids rebuilt per frame, per-class Python NMS. (Ultralytics'
  `YOLO()` cannot load a YOLOX export, so this is the naive reference loop for the same model.)
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

# Run as a script (`python bench/detect/run.py`): put the repo on sys.path before importing from it.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from citywatch.config import DetectorConfig
from citywatch.detectors import load_detector
from tests.support import MODEL_DIR, VTEST
from vision.detect import BatchingDetector, Detector
from vision.detect.backends.yolox_onnx import YoloxOnnxBackend


def read_frames(path: Path, count: int, every: int = 5) -> list[np.ndarray]:
    """`count` frames of `path`, one in `every` (10 fps -> 2 fps)."""
    capture = cv2.VideoCapture(str(path))
    frames, index = [], 0
    while len(frames) < count and capture.grab():
        if index % every == 0:
            frames.append(capture.retrieve()[1])
        index += 1
    if not frames:
        raise SystemExit(f"no frames read from {path}")
    return frames


# --- the naive loop: YOLOX's own ONNX demo, per frame ------------------------------------------------


def _demo_preproc(img: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, float]:
    padded = np.ones((size[0], size[1], 3), dtype=np.uint8) * 114
    r = min(size[0] / img.shape[0], size[1] / img.shape[1])
    resized = cv2.resize(img, (int(img.shape[1] * r), int(img.shape[0] * r)), interpolation=cv2.INTER_LINEAR)
    padded[: int(img.shape[0] * r), : int(img.shape[1] * r)] = resized.astype(np.uint8)
    padded = np.ascontiguousarray(padded.transpose((2, 0, 1)), dtype=np.float32)
    return padded, r


def _demo_postprocess(outputs: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    grids, expanded = [], []
    for stride in (8, 16, 32):
        hsize, wsize = size[0] // stride, size[1] // stride
        xv, yv = np.meshgrid(np.arange(wsize), np.arange(hsize))
        grids.append(np.stack((xv, yv), 2).reshape(1, -1, 2))
        expanded.append(np.full((*grids[-1].shape[:2], 1), stride))
    grid, strides = np.concatenate(grids, 1), np.concatenate(expanded, 1)
    outputs[..., :2] = (outputs[..., :2] + grid) * strides
    outputs[..., 2:4] = np.exp(outputs[..., 2:4]) * strides
    return outputs


def _nms(boxes: np.ndarray, scores: np.ndarray, thr: float) -> list[int]:
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = scores.argsort()[::-1]
    keep = []
    while order.size > 0:
        i = order[0]
        keep.append(int(i))
        xx1, yy1 = np.maximum(x1[i], x1[order[1:]]), np.maximum(y1[i], y1[order[1:]])
        xx2, yy2 = np.minimum(x2[i], x2[order[1:]]), np.minimum(y2[i], y2[order[1:]])
        inter = np.maximum(0.0, xx2 - xx1 + 1) * np.maximum(0.0, yy2 - yy1 + 1)
        ovr = inter / (areas[i] + areas[order[1:]] - inter)
        order = order[np.where(ovr <= thr)[0] + 1]
    return keep


def _demo_multiclass_nms(boxes: np.ndarray, scores: np.ndarray, nms_thr: float, score_thr: float) -> list:
    final = []
    for cls in range(scores.shape[1]):
        cls_scores = scores[:, cls]
        mask = cls_scores > score_thr
        if mask.sum() == 0:
            continue
        keep = _nms(boxes[mask], cls_scores[mask], nms_thr)
        final.extend((boxes[mask][k], cls_scores[mask][k], cls) for k in keep)
    return final


def naive_detect(session, image: np.ndarray, size: int = 416) -> list:
    """One frame the YOLOX-demo way."""
    tensor, ratio = _demo_preproc(image, (size, size))
    name = session.get_inputs()[0].name
    output = session.run(None, {name: tensor[None, :, :, :]})
    predictions = _demo_postprocess(output[0], (size, size))[0]
    boxes = predictions[:, :4]
    scores = predictions[:, 4:5] * predictions[:, 5:]
    xyxy = np.ones_like(boxes)
    xyxy[:, 0] = boxes[:, 0] - boxes[:, 2] / 2.0
    xyxy[:, 1] = boxes[:, 1] - boxes[:, 3] / 2.0
    xyxy[:, 2] = boxes[:, 0] + boxes[:, 2] / 2.0
    xyxy[:, 3] = boxes[:, 1] + boxes[:, 3] / 2.0
    xyxy /= ratio
    return _demo_multiclass_nms(xyxy, scores, nms_thr=0.45, score_thr=0.3)


# --- modes ------------------------------------------------------------------------------------------


def run_bare(detector: Detector, tensors: list[np.ndarray]) -> None:
    session, name = detector.backend.session, detector.backend.input_name
    for tensor in tensors:
        session.run(None, {name: tensor[None]})


def run_direct(detector: Detector, frames: list[np.ndarray]) -> None:
    for frame in frames:
        detector.detect([frame])


def run_naive(detector: Detector, frames: list[np.ndarray]) -> None:
    for frame in frames:
        naive_detect(detector.backend.session, frame)


def run_batching(detector: Detector, frames: list[np.ndarray], batch: int, cameras: int, wait_s: float) -> None:
    batching = BatchingDetector(detector, max_batch=batch, max_wait_s=wait_s)
    errors: list[BaseException] = []

    def camera(cam: int) -> None:
        try:
            for frame in frames[cam::cameras]:
                batching.detect(f"cam-{cam}", frame)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=camera, args=(c,)) for c in range(cameras)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    batching.close()
    if errors:
        raise errors[0]


def timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="40 frames, 3 repeats")
    parser.add_argument("--frames", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--cameras", type=int, default=4, help="camera threads feeding BatchingDetector")
    parser.add_argument("--threads", type=int, default=None, help="onnxruntime intra-op threads")
    parser.add_argument("--wait-ms", type=float, default=20.0, help="batch deadline")
    parser.add_argument("--no-spin", action="store_true", help="onnxruntime threads sleep instead of spinning")
    parser.add_argument("--model-dir", default=str(MODEL_DIR))
    args = parser.parse_args(argv)
    count = args.frames or (40 if args.quick else 120)
    repeats = args.repeats or (3 if args.quick else 5)

    frames = read_frames(VTEST, count)
    config = DetectorConfig(model="yolox_nano.onnx", model_dirs=[args.model_dir], threads=args.threads)
    detector = load_detector(config)
    if args.no_spin:
        path = Path(args.model_dir) / "yolox_nano.onnx"
        detector.backend = YoloxOnnxBackend(path, None, args.threads, config.confidence, config.iou, spin=False)
    tensors = [detector.backend.preprocess(f)[0] for f in frames]

    def modes_for(frames: list[np.ndarray], tensors: list[np.ndarray]) -> dict[str, Callable[[], None]]:
        wait_s = args.wait_ms / 1000
        return {
            "bare-ort": lambda: run_bare(detector, tensors),
            "citywatch-direct": lambda: run_direct(detector, frames),
            **{
                f"citywatch-b{b}": (lambda b=b: run_batching(detector, frames, b, args.cameras, wait_s))
                for b in (1, 4, 8)
            },
            "naive-loop": lambda: run_naive(detector, frames),
        }

    for fn in modes_for(frames[:8], tensors[:8]).values():  # warm-up: allocator, thread pools, caches
        fn()
    modes = modes_for(frames, tensors)
    load_before = os.getloadavg()[0]
    samples: dict[str, list[float]] = {name: [] for name in modes}
    ratios: dict[str, list[float]] = {name: [] for name in modes}
    for _ in range(repeats):
        for name, fn in modes.items():
            samples[name].append(len(frames) / timed(fn))
        for name in modes:  # ratio to bare within one repeat: robust to load drifting between repeats
            ratios[name].append(samples[name][-1] / samples["bare-ort"][-1])
    medians = {name: statistics.median(values) for name, values in samples.items()}
    median_ratio = {name: statistics.median(values) for name, values in ratios.items()}
    load_after = os.getloadavg()[0]
    print(
        f"# {platform.machine()}, {os.cpu_count()} CPUs, onnxruntime {__import__('onnxruntime').__version__}, "
        f"threads={args.threads or 'default'}, spin={'off' if args.no_spin else 'default'}, {len(frames)} frames "
        f"of {VTEST.name} at 2 fps, {repeats} repeats, {args.cameras} camera threads, "
        f"load average {load_before:.1f} -> {load_after:.1f}"
    )
    print(f"{'mode':18} {'frames/s':>9} {'ms/frame':>9} {'vs bare':>8}  (min..max frames/s)")
    for name, median in medians.items():
        lo, hi = min(samples[name]), max(samples[name])
        print(f"{name:18} {median:9.1f} {1000 / median:9.2f} {median_ratio[name]:8.2f}  ({lo:.1f}..{hi:.1f})")
    naive = median_ratio["naive-loop"]
    best_name = max((n for n in modes if n.startswith("citywatch-b")), key=lambda n: median_ratio[n])
    best = median_ratio[best_name]
    print(f"best batching path {best_name}: {best:.3f} x bare onnxruntime, {best / naive:.2f} x the naive loop")
    print("('vs bare' is the median over repeats of each repeat's frames/s ratio to bare-ort)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
