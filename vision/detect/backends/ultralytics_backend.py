"""Ultralytics YOLO models (`.pt`, and the exports ultralytics loads: ONNX, OpenVINO, TensorRT).

Imported lazily, after `vision.offline` has set ultralytics' offline environment.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import supervision as sv

from vision.offline import ensure_offline_ultralytics


class UltralyticsBackend:
    """`YOLO(path)` predicting a batch of BGR images; class names come from the model."""

    splittable = False

    def __init__(
        self,
        path: Path,
        input_size: int | None,
        confidence: float,
        iou: float,
        threads: int | None = None,
        device: str | None = None,
    ):
        ensure_offline_ultralytics()
        # deferred until the offline environment is set: ultralytics reads it when imported
        from ultralytics import YOLO

        if threads:
            # torch comes with ultralytics; imported here only to cap its threads
            import torch

            torch.set_num_threads(threads)
        try:
            self.model = YOLO(str(path), task="detect")
        except Exception as exc:  # ultralytics raises many types for unreadable weights
            raise ValueError(f"cannot load ultralytics model {path}: {exc}") from exc
        names = self.model.names
        self.class_names = [names[i] for i in sorted(names)] if isinstance(names, dict) else list(names)
        self.size = int(input_size or 640)
        self.confidence, self.iou, self.device = confidence, iou, device or "cpu"

    def __call__(self, images: Sequence[np.ndarray]) -> list[sv.Detections]:
        if not images:
            return []
        results = self.model.predict(
            list(images),
            imgsz=self.size,
            conf=self.confidence,
            iou=self.iou,
            verbose=False,
            device=self.device,
        )
        return [sv.Detections.from_ultralytics(result) for result in results]
