"""Several named detectors for one camera network, each behind its own batching queue.

Given the labels a camera's active rules need, `DetectorSet` runs only the models that produce
them (e.g. the COCO model for parking, an operator's litter model for litter) and merges their
results into one `sv.Detections`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import supervision as sv

from vision.detect.batching import BatchingDetector
from vision.detect.detector import Detector, DetectorError
from vision.labels import expand_labels, select


class DetectorSet:
    """Named detectors, each behind its own `BatchingDetector`; runs only the ones a camera needs.

    `detect(camera_id, image, labels)` runs every detector that produces at least one of `labels`
    (group names such as `vehicle` expand to their members; `None` means all detectors) and merges
    their detections into one `sv.Detections` with `data['label']`.

    Example:
        >>> detectors = load_detector_set(config.detector, config.detectors)  # doctest: +SKIP
        >>> detectors.detect("cam-1", frame.image, labels=["vehicle", "litter"])  # doctest: +SKIP
    """

    def __init__(
        self, detectors: Mapping[str, Detector], max_batch: int = 1, max_wait_s: float = 0.02, workers: int = 1
    ):
        if not detectors:
            raise DetectorError("a detector set needs at least one detector")
        self.detectors = dict(detectors)
        self.batching = {
            name: BatchingDetector(det, max_batch=max_batch, max_wait_s=max_wait_s, workers=workers)
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
    for part in parts:
        copy = select(part, np.ones(len(part), dtype=bool))
        copy.data = {
            k: np.asarray(v, dtype=object if k == "label" else None) for k, v in copy.data.items() if k in common
        }
        trimmed.append(copy)
    return sv.Detections.merge(trimmed)
