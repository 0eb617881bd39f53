"""Detectors as shared services (`cluster.detector_placement: actors`): one model, many groups.

`DetectorService` holds the primary detector's model where the accelerator is (a Ray actor with
`num_gpus`, or a CPU one with `num_gpus: 0`) and runs only the model: its `infer` takes a batch of
letterboxed uint8 HWC tensors (size x size x 3, a few hundred kB each, never raw frames) and returns
the raw predictions. `RemoteBackend` is the group's side, a splittable detector backend (see
`vision.detect.detector.Detector`): it letterboxes in the camera threads, sends each batch formed by
the group's `BatchingDetector` to a service, and decodes (NMS, labels) locally. A service takes the
batches of every group it serves in turn. YOLOX ONNX models only.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import supervision as sv

from citywatch.config import DetectorConfig
from citywatch.detectors import load_detector
from vision.detect import Detector, DetectorError
from vision.detect.backends.yolox_onnx import decode, letterbox_uint8, make_grid


@dataclass(frozen=True)
class ModelGeometry:
    """What a group needs to prepare inputs for, and decode outputs of, a service's model."""

    name: str
    size: int
    class_names: tuple[str, ...]
    label_mapping: dict[str, str]
    confidence: float
    iou: float


class DetectorService:
    """The model of `config` (the primary detector), run on batches of letterboxed uint8 tensors.

    Example:
        >>> service = DetectorService(config.detector)  # doctest: +SKIP
        >>> raws = service.infer(np.stack([letterbox_uint8(image, 416)[0]]))  # doctest: +SKIP
    """

    def __init__(self, config: DetectorConfig, cwd: str | None = None):
        if cwd and os.path.isdir(cwd):
            os.chdir(cwd)  # the config's relative model paths are the driver's
        self.detector = load_detector(config)
        size = getattr(self.detector.backend, "size", None)
        if not self.detector.splittable or size is None:
            raise DetectorError(f"detector {self.detector.name}: detector actors need a YOLOX ONNX model")
        self.geometry_ = ModelGeometry(
            self.detector.name,
            int(size),
            tuple(self.detector.class_names),
            dict(self.detector.mapping),
            config.confidence,
            config.iou,
        )
        #: Batches and images run so far.
        self.batches = 0
        self.images = 0

    def geometry(self) -> ModelGeometry:
        return self.geometry_

    def infer(self, batch: np.ndarray) -> list[np.ndarray]:
        """Raw predictions for a [N, size, size, 3] uint8 batch (one array per image)."""
        self.batches += 1
        self.images += len(batch)
        tensors = [image.transpose(2, 0, 1).astype(np.float32) for image in batch]
        return self.detector.infer(tensors)

    def stats(self) -> dict[str, int]:
        return {"batches": self.batches, "images": self.images}


class RemoteBackend:
    """A splittable backend whose model runs in a `DetectorService` reached through `infer_remote`."""

    splittable = True
    max_batch = 16

    def __init__(self, geometry: ModelGeometry, infer_remote: Callable[[np.ndarray], list[np.ndarray]]):
        self.geometry = geometry
        self.size = geometry.size
        self.grid, self.strides = make_grid(geometry.size)
        self.infer_remote = infer_remote

    def preprocess(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        return letterbox_uint8(image, self.size)

    def infer(self, tensors: Sequence[np.ndarray]) -> list[np.ndarray]:
        return list(self.infer_remote(np.stack(list(tensors))))

    def postprocess(self, raw: np.ndarray, ratio: float) -> sv.Detections:
        return decode(raw, self.grid, self.strides, ratio, self.geometry.confidence, self.geometry.iou)

    def __call__(self, images: Sequence[np.ndarray]) -> list[sv.Detections]:
        prepared = [self.preprocess(image) for image in images]
        raws = self.infer([tensor for tensor, _ in prepared])
        return [self.postprocess(raw, ratio) for raw, (_, ratio) in zip(raws, prepared, strict=True)]


def remote_detector(geometry: ModelGeometry, infer_remote: Callable[[np.ndarray], list[Any]]) -> Detector:
    """A `Detector` (labels, merging as usual) whose model runs in a service."""
    backend = RemoteBackend(geometry, infer_remote)
    return Detector(geometry.name, backend, list(geometry.class_names), dict(geometry.label_mapping))
