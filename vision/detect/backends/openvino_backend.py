"""YOLOX-style ONNX models on OpenVINO's CPU plugin (`detector.engine: openvino`).

The same stages as `YoloxOnnxBackend` (`YoloxStages`: its letterbox and decode): OpenVINO reads
the ONNX file directly, compiled with the LATENCY hint and the configured thread count; the
detector opens it with the plugin's default precision (bf16 on CPUs that have it, else FP32;
`precision="f32"` forces FP32, as bench/engines measures both; docs/benchmarks.md).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import openvino as ov  # no py.typed marker: typed as Any (pyproject, mypy overrides)

from vision.detect.backends.yolox_onnx import YoloxStages, make_grid


def compile_config(threads: int | None, precision: str | None = "f32") -> dict[str, str]:
    """OpenVINO CPU properties: LATENCY hint, `threads` inference threads (None: the plugin's
    choice) and an inference precision (`f32`, `bf16`; None: the plugin's default)."""
    config = {"PERFORMANCE_HINT": "LATENCY"}
    if threads:
        config["INFERENCE_NUM_THREADS"] = str(threads)
    if precision:
        config["INFERENCE_PRECISION_HINT"] = precision
    return config


class OpenVinoBackend(YoloxStages):
    """An OpenVINO compiled model over a YOLOX ONNX file, in three stages: `preprocess` (any
    thread), `infer` (one compiled-model call per batch the file accepts, serialised: an infer
    request is not thread-safe) and `postprocess` (any thread). Calling it runs all three.

    Example:
        >>> backend = OpenVinoBackend(Path("yolox_nano.onnx"), None, 1, 0.3, 0.45)  # doctest: +SKIP
        >>> backend([image])[0].xyxy  # doctest: +SKIP
    """

    splittable = True

    def __init__(
        self,
        path: Path,
        input_size: int | None,
        threads: int | None,
        confidence: float,
        iou: float,
        precision: str | None = "f32",
    ):
        core = ov.Core()
        try:
            model = core.read_model(str(path))
            self.compiled = core.compile_model(model, "CPU", compile_config(threads, precision))
        except Exception as exc:  # OpenVINO raises RuntimeError subclasses of its own for bad files
            raise ValueError(f"cannot load ONNX model {path} with OpenVINO: {exc}") from exc
        shape = model.input(0).get_partial_shape()
        declared = shape[2].get_length() if shape.rank.is_static and shape[2].is_static else None
        if input_size and declared and input_size != declared:
            raise ValueError(f"ONNX model {path} has a fixed input of {declared}, not the configured {input_size}")
        self.size = int(input_size or declared or 416)
        #: Images one call takes: 1 for exports with a fixed batch (like yolox_nano.onnx).
        self.max_batch = shape[0].get_length() if shape[0].is_static else 64
        self.grid, self.strides = make_grid(self.size)
        self.confidence, self.iou = confidence, iou
        self._request = self.compiled.create_infer_request()
        self._lock = threading.Lock()

    def infer(self, tensors: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Raw predictions, one [N, 5 + classes] array per tensor."""
        out: list[np.ndarray] = []
        for start in range(0, len(tensors), self.max_batch):
            chunk = tensors[start : start + self.max_batch]
            batch = chunk[0][None] if len(chunk) == 1 else np.stack(chunk)
            with self._lock:
                self._request.infer({0: batch})
                raw = np.array(self._request.get_output_tensor(0).data)  # a copy: the request reuses it
            out.extend(raw[i] for i in range(len(chunk)))
        return out
