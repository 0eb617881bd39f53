"""A detector: a model backend plus its label mapping, opened from a checked model file.

`open_detector(spec, config)` opens the backend a `ModelSpec` names (onnxruntime for YOLOX-style
ONNX, ultralytics for `.pt` and its exports); the spec comes from the model store
(`citywatch.modelstore`), which found the file and checked its sha256. `Detector` maps the model's
classes to Citywatch labels and merges duplicate boxes of one object.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import supervision as sv

from citywatch.config import DetectorConfig
from vision.errors import DetectorError
from vision.labels import COCO_MAPPING, map_labels, merge_same_object, validate_mapping

log = logging.getLogger(__name__)

Backend = Callable[[Sequence[np.ndarray]], list[sv.Detections]]
#: Backends a model may run on.
BACKENDS = ("yolox_onnx", "ultralytics")


@dataclass(frozen=True)
class ModelSpec:
    """A model file found and checked in the model store, with what its manifest says about it.

    `class_names` are the model's classes in output order (ultralytics models carry their own, so
    theirs may be empty); `label_mapping` maps class names to Citywatch labels.
    """

    path: Path
    name: str
    backend: str
    class_names: tuple[str, ...] = ()
    label_mapping: Mapping[str, str] = field(default_factory=lambda: dict(COCO_MAPPING))
    input_size: int | None = None


class Detector:
    """A backend plus its label mapping: `detect(images)` gives one `sv.Detections` per image,
    each with `data['label']` holding Citywatch labels.

    Example:
        >>> detector = open_detector(spec, DetectorConfig())  # doctest: +SKIP
        >>> [d.data["label"] for d in detector.detect([image])]  # doctest: +SKIP
    """

    def __init__(self, name: str, backend: Backend, class_names: list[str], mapping: dict[str, str]):
        self.name = name
        self.backend = backend
        self.class_names = class_names
        self.mapping = mapping
        #: Citywatch labels this detector can produce.
        self.labels = frozenset(mapping.values())
        #: True when the backend has separate preprocess / infer / postprocess stages.
        self.splittable = bool(getattr(backend, "splittable", False))
        #: Most images one model call takes (1 for ONNX exports with a fixed batch dimension).
        self.max_batch = int(getattr(backend, "max_batch", 64))

    def detect(self, images: Sequence[np.ndarray]) -> list[sv.Detections]:
        """One `sv.Detections` per image, labelled, duplicates of one object merged."""
        if not images:
            return []
        return [self.finish(d) for d in self.backend(images)]

    def finish(self, detections: sv.Detections) -> sv.Detections:
        """Map class ids to Citywatch labels and merge one object's boxes (car + truck)."""
        return merge_same_object(map_labels(detections, self.class_names, self.mapping))

    # Stages, for splittable backends (used by BatchingDetector).
    def preprocess(self, image: np.ndarray) -> tuple[Any, Any]:
        """(model input, metadata) for one image."""
        return self.backend.preprocess(image)  # type: ignore[attr-defined]

    def infer(self, inputs: Sequence[Any]) -> list[Any]:
        """Raw model outputs for prepared inputs."""
        return self.backend.infer(inputs)  # type: ignore[attr-defined]

    def postprocess(self, raw: Any, meta: Any) -> sv.Detections:
        """Final labelled detections from one raw output."""
        return self.finish(self.backend.postprocess(raw, meta))  # type: ignore[attr-defined]


def open_detector(spec: ModelSpec, config: DetectorConfig) -> Detector:
    """Open the backend of a checked model with the config's thresholds and threads; `DetectorError`
    names the path when the file cannot be used."""
    input_size = config.input_size or spec.input_size
    class_names = list(spec.class_names)
    try:
        if spec.backend == "yolox_onnx" and config.engine == "openvino":
            try:
                # deferred: OpenVINO is an optional extra, loaded only for `detector.engine: openvino`
                from vision.detect.backends.openvino_backend import OpenVinoBackend
            except ImportError as exc:
                raise DetectorError(
                    f"model {spec.path}: detector.engine is openvino but OpenVINO is not installed ({exc}); "
                    "pip install 'citywatch[openvino]'"
                ) from None
            # precision None: the plugin's default (bf16 where the CPU has it; docs/benchmarks.md)
            backend: Backend = OpenVinoBackend(
                spec.path, input_size, config.threads, config.confidence, config.iou, precision=None
            )
            if not class_names:
                raise DetectorError(f"model {spec.path}: no class names (give them in its manifest entry)")
        elif spec.backend == "yolox_onnx":
            # deferred: onnxruntime loads only for the models that use it
            from vision.detect.backends.yolox_onnx import YoloxOnnxBackend

            backend = YoloxOnnxBackend(
                spec.path, input_size, config.threads, config.confidence, config.iou, spin=config.spin
            )
            if not class_names:
                raise DetectorError(f"model {spec.path}: no class names (give them in its manifest entry)")
        elif spec.backend == "ultralytics":
            # deferred: ultralytics (and torch) load only for the models that use them
            from vision.detect.backends.ultralytics_backend import UltralyticsBackend

            ultra = UltralyticsBackend(spec.path, input_size, config.confidence, config.iou, config.threads)
            backend, class_names = ultra, ultra.class_names
        else:
            raise DetectorError(f"unknown detector backend {spec.backend!r} for {spec.path}")
    except ValueError as exc:
        raise DetectorError(str(exc)) from None
    mapping = dict(spec.label_mapping)
    try:
        validate_mapping(mapping)
    except ValueError as exc:
        raise DetectorError(f"model {spec.path}: {exc}") from None
    log.info("detector %s (%s) from %s", spec.name, spec.backend, spec.path)
    return Detector(spec.name, backend, class_names, mapping)
