"""YOLOX-style ONNX models on onnxruntime (the default COCO detector, `yolox_nano.onnx`).

Input: BGR, raw 0..255, letterboxed top-left onto a square canvas of 114. Output: raw grid
predictions (cx, cy, w, h, objectness, class scores) for strides 8, 16 and 32, decoded here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import supervision as sv

STRIDES = (8, 16, 32)


def letterbox_uint8(image: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    """Resize keeping aspect ratio into a size x size uint8 HWC canvas padded bottom/right with
    114; the canvas and the ratio (what crosses to a detector service: 4x smaller than float32)."""
    height, width = image.shape[:2]
    ratio = min(size / height, size / width)
    resized = cv2.resize(image, (int(width * ratio), int(height * ratio)), interpolation=cv2.INTER_LINEAR)
    canvas = np.full((size, size, 3), 114, dtype=np.uint8)
    canvas[: resized.shape[0], : resized.shape[1]] = resized
    return canvas, ratio


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    """`letterbox_uint8` as the model's input: CHW float32, and the ratio."""
    canvas, ratio = letterbox_uint8(image, size)
    return canvas.transpose(2, 0, 1).astype(np.float32), ratio


def make_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Grid cell offsets and strides for every output row of a `size` x `size` input."""
    grids, strides = [], []
    for stride in STRIDES:
        cells = size // stride
        xs, ys = np.meshgrid(np.arange(cells), np.arange(cells))
        grids.append(np.stack((xs, ys), axis=2).reshape(-1, 2))
        strides.append(np.full((cells * cells, 1), stride))
    return np.concatenate(grids).astype(np.float32), np.concatenate(strides).astype(np.float32)


def decode(
    raw: np.ndarray, grid: np.ndarray, strides: np.ndarray, ratio: float, confidence: float, iou: float
) -> sv.Detections:
    """Raw [N, 5 + classes] predictions of one image to class-aware-NMS'd boxes in image pixels.

    Rows whose objectness is below `confidence` are dropped first (a class score is at most 1, so
    their final score is too), which makes decoding a few hundred microseconds.
    """
    candidates = np.flatnonzero(raw[:, 4] >= confidence)
    if candidates.size == 0:
        return sv.Detections.empty()
    raw, grid, strides = raw[candidates], grid[candidates], strides[candidates]
    class_scores = raw[:, 5:] * raw[:, 4:5]
    class_id = class_scores.argmax(axis=1)
    score = class_scores[np.arange(len(class_scores)), class_id]
    keep = score >= confidence
    if not keep.any():
        return sv.Detections.empty()
    raw, grid, strides, score, class_id = raw[keep], grid[keep], strides[keep], score[keep], class_id[keep]
    xy = (raw[:, :2] + grid) * strides
    wh = np.exp(np.clip(raw[:, 2:4], -10.0, 10.0)) * strides
    xyxy = np.concatenate((xy - wh / 2, xy + wh / 2), axis=1) / ratio
    # Class-aware NMS in OpenCV's C++ (about 10x faster than a numpy NMS on a few dozen boxes).
    keep_ids = cv2.dnn.NMSBoxesBatched(
        np.concatenate((xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]), axis=1).tolist(),
        score.tolist(),
        class_id.tolist(),
        confidence,
        iou,
    )
    kept = np.asarray(keep_ids, dtype=int).reshape(-1)
    kept = kept[np.argsort(-score[kept], kind="stable")]
    return sv.Detections(
        xyxy=xyxy[kept].astype(np.float32),
        confidence=score[kept].astype(np.float32),
        class_id=class_id[kept].astype(int),
    )


class YoloxStages:
    """The stages every YOLOX engine shares around its model call: `preprocess` (letterbox, any
    thread) and `postprocess` (decode and NMS, any thread); calling the backend runs
    preprocess, the engine's own `infer`, then postprocess. Engines set `size`, `grid`, `strides`,
    `confidence` and `iou`."""

    size: int
    grid: np.ndarray
    strides: np.ndarray
    confidence: float
    iou: float

    def infer(self, tensors: Sequence[np.ndarray]) -> list[np.ndarray]:
        raise NotImplementedError

    def preprocess(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        """Letterboxed CHW float32 tensor and its scale ratio."""
        return letterbox(image, self.size)

    def postprocess(self, raw: np.ndarray, ratio: float) -> sv.Detections:
        """Boxes in image pixels, NMS'd, with class ids."""
        return decode(raw, self.grid, self.strides, ratio, self.confidence, self.iou)

    def __call__(self, images: Sequence[np.ndarray]) -> list[sv.Detections]:
        prepared = [self.preprocess(image) for image in images]
        raws = self.infer([tensor for tensor, _ in prepared])
        return [self.postprocess(raw, ratio) for raw, (_, ratio) in zip(raws, prepared, strict=True)]


class YoloxOnnxBackend(YoloxStages):
    """onnxruntime session over a YOLOX ONNX file, in three stages so that callers can spread them:
    `preprocess` (any thread), `infer` (the model: one session call per batch the file accepts) and
    `postprocess` (any thread). Calling the backend runs all three.
    """

    splittable = True

    def __init__(
        self,
        path: Path,
        input_size: int | None,
        threads: int | None,
        confidence: float,
        iou: float,
        spin: bool | None = None,
    ):
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        if spin is not None:
            options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in ort.get_available_providers()]
        try:
            self.session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own exception types for bad files
            raise ValueError(f"cannot load ONNX model {path}: {exc}") from exc
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        declared = model_input.shape[2] if isinstance(model_input.shape[2], int) else None
        if input_size and declared and input_size != declared:
            raise ValueError(f"ONNX model {path} has a fixed input of {declared}, not the configured {input_size}")
        self.size = int(input_size or declared or 416)
        batch_dim = model_input.shape[0]
        #: Images one session call takes: 1 for exports with a fixed batch (like yolox_nano.onnx).
        self.max_batch = batch_dim if isinstance(batch_dim, int) else 64
        self.grid, self.strides = make_grid(self.size)
        self.confidence, self.iou = confidence, iou

    def infer(self, tensors: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Raw predictions, one [N, 5 + classes] array per tensor."""
        out: list[np.ndarray] = []
        for start in range(0, len(tensors), self.max_batch):
            chunk = tensors[start : start + self.max_batch]
            batch = chunk[0][None] if len(chunk) == 1 else np.stack(chunk)
            (raw,) = self.session.run(None, {self.input_name: batch})
            out.extend(raw[i] for i in range(len(chunk)))
        return out
