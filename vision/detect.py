"""Detection: frames in, labelled boxes out, batched across cameras behind one queue interface.

`load_detector` finds a model in the model store, checks it and opens the right backend
(onnxruntime for YOLOX-style ONNX, ultralytics for `.pt` and its exports). `Detector` maps the
model's classes to Citywatch labels and merges duplicate boxes of one object.

`BatchingDetector` is the interface the per-camera workers use: `detect(camera_id, image)` (or
`submit`, which returns a future). One worker thread forms batches across cameras up to `max_batch`
or a deadline, serving high-priority cameras first when it is saturated. For backends that split
into stages (YOLOX on onnxruntime), `detect` letterboxes and decodes in the calling camera thread
and the worker runs only the model, so pre/post-processing of many cameras overlaps inference.

`DetectorSet` holds several named detectors (e.g. the COCO model plus an operator's litter model)
and, given the labels a camera's rules need, runs only the models that produce them and merges
their results.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import supervision as sv

import vision.offline  # noqa: F401  (sets ultralytics' offline environment at import)
from citywatch.config import DetectorConfig
from citywatch.modelstore import ModelStoreError, resolve_model
from vision.labels import COCO_MAPPING, expand_labels, map_labels, merge_same_object, validate_mapping

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


def _pick_backend(config: DetectorConfig, suffix: str, entry_backend: str | None) -> str:
    if config.backend != "auto":
        return config.backend
    if entry_backend and entry_backend != "auto":
        return entry_backend
    return "yolox_onnx" if suffix == ".onnx" else "ultralytics"


def load_detector(config: DetectorConfig) -> Detector:
    """Resolve the configured model in the store and open it; `DetectorError` names the path."""
    manifests = [Path(config.manifest)] if config.manifest else []
    try:
        resolved = resolve_model(config.model, config.model_dirs, manifests)
    except ModelStoreError as exc:
        raise DetectorError(str(exc)) from None
    entry = resolved.entry
    backend_name = _pick_backend(config, resolved.path.suffix.lower(), entry.backend if entry else None)
    input_size = config.input_size or (entry.input_size if entry else None)
    try:
        if backend_name == "yolox_onnx":
            from vision.backends.yolox_onnx import YoloxOnnxBackend

            backend: Backend = YoloxOnnxBackend(
                resolved.path, input_size, config.threads, config.confidence, config.iou
            )
            class_names = entry.class_names if entry and entry.class_names else _coco_names()
        elif backend_name == "ultralytics":
            from vision.backends.ultralytics_backend import UltralyticsBackend

            ultra = UltralyticsBackend(resolved.path, input_size, config.confidence, config.iou, config.threads)
            backend, class_names = ultra, ultra.class_names
        else:
            raise DetectorError(f"unknown detector backend {backend_name!r} for {resolved.path}")
    except ValueError as exc:
        raise DetectorError(str(exc)) from None
    mapping = dict(entry.label_mapping) if entry and entry.label_mapping else dict(COCO_MAPPING)
    try:
        validate_mapping(mapping)
    except ValueError as exc:
        raise DetectorError(f"model {resolved.path}: {exc}") from None
    name = config.name or (entry.name if entry else resolved.path.name)
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
    payload: Any  # an image, or a prepared model input when `prepared`
    prepared: bool = False
    future: Future = field(default_factory=Future)


_SENTINEL_RANK = 2


class BatchingDetector:
    """Cross-camera micro-batching in front of a `Detector`.

    `submit` is safe from any thread and never blocks on the model; each request waits at most
    `max_wait_s` for others to join a batch of up to `max_batch` (capped at what one model call
    takes: `yolox_nano.onnx` has a fixed batch of 1, so its frames go straight to the model).
    Requests with `priority=1` are taken before `priority=0` ones when requests queue up; within a
    priority, first come first served. The queue is bounded (`max_pending`): a full queue refuses
    `submit` (`queue.Full`) rather than grow, and the camera drops that frame.

    Example:
        >>> batching = BatchingDetector(detector, max_batch=4, max_wait_s=0.02)  # doctest: +SKIP
        >>> detections = batching.detect("cam-1", frame.image)  # doctest: +SKIP
    """

    def __init__(self, detector: Detector, max_batch: int = 1, max_wait_s: float = 0.02, max_pending: int = 256):
        self.detector = detector
        self.requested_batch = max(1, int(max_batch))
        #: The batch actually formed: never more than one model call takes (waiting for frames the
        #: model cannot take in the same call would only add latency).
        self.max_batch = min(self.requested_batch, max(1, detector.max_batch))
        self.max_wait_s = max_wait_s
        self._queue: queue.PriorityQueue[tuple[int, int, _Request | None]] = queue.PriorityQueue(maxsize=max_pending)
        self._seq = itertools.count()
        self._closed = False
        self.batches = 0
        self.frames = 0
        #: Frames detected per camera.
        self.per_camera: Counter[str] = Counter()
        self._thread = threading.Thread(target=self._serve, name=f"detector-{detector.name}", daemon=True)
        self._thread.start()

    def _put(self, request: _Request, priority: int, block: bool, timeout: float | None) -> None:
        if self._closed:
            raise DetectorError(f"detector {self.detector.name} is closed")
        item = (-1 if priority > 0 else 0, next(self._seq), request)
        if block:
            self._queue.put(item, timeout=timeout)
        else:
            self._queue.put_nowait(item)

    def submit(self, camera_id: str, image: np.ndarray, priority: int = 0) -> Future:
        """Queue one frame; the future gives its `sv.Detections`. Raises `queue.Full` when saturated."""
        request = _Request(camera_id, image)
        self._put(request, priority, block=False, timeout=None)
        return request.future

    def detect(
        self, camera_id: str, image: np.ndarray, timeout: float | None = None, priority: int = 0
    ) -> sv.Detections:
        """Submit and wait: the call a camera worker makes. Waits for room in the queue.

        With a splittable backend the letterbox and the decoding run here, in the caller's thread.
        """
        if not self.detector.splittable:
            request = _Request(camera_id, image)
            self._put(request, priority, block=True, timeout=timeout)
            return request.future.result(timeout=timeout)
        tensor, meta = self.detector.preprocess(image)
        request = _Request(camera_id, tensor, prepared=True)
        self._put(request, priority, block=True, timeout=timeout)
        raw = request.future.result(timeout=timeout)
        return self.detector.postprocess(raw, meta)

    def close(self) -> None:
        """Finish the queued requests, then stop the worker."""
        if self._closed:
            return
        self._closed = True
        self._queue.put((_SENTINEL_RANK, next(self._seq), None))
        self._thread.join(timeout=10)

    def _serve(self) -> None:
        while True:
            _, _, first = self._queue.get()
            if first is None:
                return
            batch = [first]
            deadline = time.monotonic() + self.max_wait_s
            stop = False
            while len(batch) < self.max_batch:
                remaining = deadline - time.monotonic()
                try:
                    if remaining > 0:
                        _, _, item = self._queue.get(timeout=remaining)
                    else:
                        _, _, item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._run(batch)
            if stop:
                return

    def _run(self, batch: list[_Request]) -> None:
        try:
            results: list[Any] = [None] * len(batch)
            prepared = [i for i, r in enumerate(batch) if r.prepared]
            images = [i for i, r in enumerate(batch) if not r.prepared]
            if prepared:
                for i, raw in zip(prepared, self.detector.infer([batch[i].payload for i in prepared]), strict=True):
                    results[i] = raw
            if images:
                for i, det in zip(images, self.detector.detect([batch[i].payload for i in images]), strict=True):
                    results[i] = det
        except Exception as exc:
            log.exception("detector %s failed on a batch of %d", self.detector.name, len(batch))
            for request in batch:
                request.future.set_exception(exc)
            return
        self.batches += 1
        self.frames += len(batch)
        for request, result in zip(batch, results, strict=True):
            self.per_camera[request.camera_id] += 1
            request.future.set_result(result)


class DetectorSet:
    """Named detectors, each behind its own `BatchingDetector`; runs only the ones a camera needs.

    `detect(camera_id, image, labels)` runs every detector that produces at least one of `labels`
    (group names such as `vehicle` expand to their members; `None` means all detectors) and merges
    their detections into one `sv.Detections` with `data['label']`.

    Example:
        >>> detectors = load_detector_set(config.detector, config.detectors)  # doctest: +SKIP
        >>> detectors.detect("cam-1", frame.image, labels=["vehicle", "litter"])  # doctest: +SKIP
    """

    def __init__(self, detectors: Mapping[str, Detector], max_batch: int = 1, max_wait_s: float = 0.02):
        if not detectors:
            raise DetectorError("a detector set needs at least one detector")
        self.detectors = dict(detectors)
        self.batching = {
            name: BatchingDetector(det, max_batch=max_batch, max_wait_s=max_wait_s)
            for name, det in self.detectors.items()
        }
        #: Calls per detector name.
        self.calls: Counter[str] = Counter()

    def needed(self, labels: Iterable[str] | None) -> list[str]:
        """Names of the detectors that produce any of `labels` (all of them for `None`)."""
        if labels is None:
            return list(self.detectors)
        wanted = expand_labels(tuple(labels))
        return [name for name, det in self.detectors.items() if det.labels & wanted]

    def detect(
        self, camera_id: str, image: np.ndarray, labels: Iterable[str] | None = None, priority: int = 0
    ) -> sv.Detections:
        """Merged, labelled detections of the needed detectors (empty when none is needed)."""
        names = self.needed(labels)
        parts = []
        for name in names:
            self.calls[name] += 1
            parts.append(self.batching[name].detect(camera_id, image, priority=priority))
        return merge_detections(parts)

    def close(self) -> None:
        """Stop every detector's worker."""
        for batching in self.batching.values():
            batching.close()


def merge_detections(parts: Sequence[sv.Detections]) -> sv.Detections:
    """Several labelled `sv.Detections` of one image as one (an empty one with labels for none)."""
    parts = [p for p in parts if len(p)]
    if not parts:
        empty = sv.Detections.empty()
        empty.data["label"] = np.array([], dtype=object)
        return empty
    if len(parts) == 1:
        return parts[0]
    common = set.intersection(*(set(p.data) for p in parts))
    trimmed = []
    for p in parts:
        p = p[np.arange(len(p))]
        p.data = {k: np.asarray(v, dtype=object if k == "label" else None) for k, v in p.data.items() if k in common}
        trimmed.append(p)
    return sv.Detections.merge(trimmed)


def load_detector_set(
    primary: DetectorConfig, extra: Sequence[DetectorConfig] = (), max_batch: int | None = None
) -> DetectorSet:
    """The `detector:` model plus the `detectors:` list, each loaded from the store and batched.

    Batch size and deadline come from `primary` unless `max_batch` is given.
    """
    detectors: dict[str, Detector] = {}
    for config in (primary, *extra):
        det = load_detector(config)
        if det.name in detectors:
            raise DetectorError(f"two detectors are named {det.name!r}; give one a `name:`")
        detectors[det.name] = det
    return DetectorSet(detectors, max_batch=max_batch or primary.batch_size, max_wait_s=primary.batch_wait_ms / 1000.0)
