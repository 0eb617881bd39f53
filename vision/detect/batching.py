"""Cross-camera micro-batching in front of one `Detector`: the interface camera workers use.

`detect(camera_id, image)` (or `submit`, which returns a future) is safe from any thread. A few
worker threads (`workers`, default one) form batches across cameras up to `max_batch` or a
deadline, serving high-priority cameras first when saturated; they share the model's session
(onnxruntime's `run` is thread-safe), so with one inference thread per call, `workers` calls run on
as many cores at once: a small pool instead of one call spread over every core. For backends that
split into stages (YOLOX on onnxruntime), `detect` letterboxes and decodes in the calling camera
thread and the workers run only the model, so pre/post-processing of many cameras overlaps inference.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import supervision as sv

from vision.detect.detector import Detector, DetectorError

log = logging.getLogger(__name__)


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

    def __init__(
        self,
        detector: Detector,
        max_batch: int = 1,
        max_wait_s: float = 0.02,
        max_pending: int = 256,
        workers: int = 1,
    ):
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
        self._count = threading.Lock()
        self._threads = [
            threading.Thread(target=self._serve, name=f"detector-{detector.name}-{i}", daemon=True)
            for i in range(max(1, int(workers)))
        ]
        for thread in self._threads:
            thread.start()

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
        for _ in self._threads:  # one stop marker per worker, after every queued request
            self._queue.put((_SENTINEL_RANK, next(self._seq), None))
        for thread in self._threads:
            thread.join(timeout=10)

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
                    stop = True  # that marker was this worker's: it stops after this batch
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
        with self._count:
            self.batches += 1
            self.frames += len(batch)
            for request in batch:
                self.per_camera[request.camera_id] += 1
        for request, result in zip(batch, results, strict=True):
            request.future.set_result(result)
