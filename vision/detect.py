"""Detection: frames in, labelled boxes out, batched across cameras behind one queue interface.

`load_detector` finds a model in the model store, checks it and opens the right backend
(onnxruntime for YOLOX-style ONNX, ultralytics for `.pt` and its exports). `Detector` maps the
model's classes to Citywatch labels and merges duplicate boxes of one object. `BatchingDetector`
is the interface the per-camera workers use: `submit(camera_id, image)` returns a future, and one
worker forms batches across cameras up to a size or a deadline, so the detector can later move to
a GPU node of its own without the cameras noticing.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np
import supervision as sv

from citywatch.config import DetectorConfig
from citywatch.modelstore import ModelStoreError, resolve_model
from vision.labels import COCO_MAPPING, map_labels, merge_same_object

log = logging.getLogger(__name__)

Backend = Callable[[Sequence[np.ndarray]], list[sv.Detections]]


class DetectorError(Exception):
    """A detector that cannot be loaded or run; the message names the model path."""


class Detector:
    """A backend plus its label mapping: `detect(images)` gives one `sv.Detections` per image,
    each with `data['label']` holding Citywatch labels.

    Example:
        >>> detector = load_detector(DetectorConfig(model="yolox_nano.onnx"))  # doctest: +SKIP
        >>> [d.data["label"] for d in detector.detect([image])]  # doctest: +SKIP
    """

    def __init__(self, name: str, backend: Backend, class_names: list[str], mapping: dict[str, str]):
        self.name = name
        self.backend = backend
        self.class_names = class_names
        self.mapping = mapping
        self.labels = frozenset(mapping.values())

    def detect(self, images: Sequence[np.ndarray]) -> list[sv.Detections]:
        raw = self.backend(images)
        return [merge_same_object(map_labels(d, self.class_names, self.mapping)) for d in raw]


def _pick_backend(config: DetectorConfig, suffix: str, entry_backend: str | None) -> str:
    if config.backend != "auto":
        return config.backend
    if entry_backend and entry_backend != "auto":
        return entry_backend
    return "yolox_onnx" if suffix == ".onnx" else "ultralytics"


def load_detector(config: DetectorConfig) -> Detector:
    """Resolve the configured model in the store and open it; `DetectorError` names the path."""
    try:
        resolved = resolve_model(config.model, config.model_dirs)
    except ModelStoreError as exc:
        raise DetectorError(str(exc)) from None
    entry = resolved.entry
    backend_name = _pick_backend(config, resolved.path.suffix.lower(), entry.backend if entry else None)
    input_size = config.input_size or (entry.input_size if entry else None)
    try:
        if backend_name == "yolox_onnx":
            from vision.backends.yolox_onnx import YoloxOnnxBackend

            backend: Backend = YoloxOnnxBackend(resolved.path, input_size, config.threads, config.confidence, config.iou)
            class_names = entry.class_names if entry and entry.class_names else _coco_names()
        elif backend_name == "ultralytics":
            from vision.backends.ultralytics_backend import UltralyticsBackend

            ultra = UltralyticsBackend(resolved.path, input_size, config.confidence, config.iou)
            backend, class_names = ultra, ultra.class_names
        else:
            raise DetectorError(f"unknown detector backend {backend_name!r} for {resolved.path}")
    except ValueError as exc:
        raise DetectorError(str(exc)) from None
    mapping = dict(entry.label_mapping) if entry and entry.label_mapping else dict(COCO_MAPPING)
    name = entry.name if entry else resolved.path.name
    log.info("detector %s (%s) from %s", name, backend_name, resolved.path)
    return Detector(name, backend, list(class_names), mapping)


def _coco_names() -> list[str]:
    from citywatch.modelstore import REPO_MANIFEST, read_manifest

    entry = read_manifest(REPO_MANIFEST).get("yolox_nano.onnx")
    if entry is None:
        raise DetectorError(f"no class names for the YOLOX model: {REPO_MANIFEST} lacks its entry")
    return entry.class_names


@dataclass
class _Request:
    camera_id: str
    image: np.ndarray
    future: Future = field(default_factory=Future)


class BatchingDetector:
    """Cross-camera micro-batching in front of a `Detector`.

    `submit` is safe from any thread and never blocks on the model; each request waits at most
    `max_wait_s` for others to join a batch of up to `max_batch`. The queue is bounded
    (`max_pending`): a full queue refuses the request (`queue.Full`) rather than grow, and the
    camera drops that frame.
    """

    def __init__(self, detector: Detector, max_batch: int = 1, max_wait_s: float = 0.02, max_pending: int = 256):
        self.detector = detector
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._queue: queue.Queue[_Request | None] = queue.Queue(maxsize=max_pending)
        self._thread = threading.Thread(target=self._serve, name="detector", daemon=True)
        self.batches = 0
        self.frames = 0
        self._thread.start()

    def submit(self, camera_id: str, image: np.ndarray) -> Future:
        request = _Request(camera_id, image)
        self._queue.put_nowait(request)
        return request.future

    def detect(self, camera_id: str, image: np.ndarray, timeout: float | None = None) -> sv.Detections:
        """Submit and wait: the call a camera worker makes. Waits for room in the queue."""
        request = _Request(camera_id, image)
        self._queue.put(request, timeout=timeout)
        return request.future.result(timeout=timeout)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _serve(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            deadline = time.monotonic() + self.max_wait_s
            while len(batch) < self.max_batch:
                remaining = deadline - time.monotonic()
                try:
                    item = self._queue.get(timeout=max(remaining, 0)) if remaining > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)
                    break
                batch.append(item)
            try:
                results = self.detector.detect([r.image for r in batch])
            except Exception as exc:
                log.exception("detector failed on a batch of %d", len(batch))
                for request in batch:
                    request.future.set_exception(exc)
                continue
            self.batches += 1
            self.frames += len(batch)
            for request, result in zip(batch, results, strict=True):
                request.future.set_result(result)
