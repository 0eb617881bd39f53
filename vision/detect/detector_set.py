"""Several named detectors for one camera network, each behind its own batching queue.

Given the labels a camera's active rules need, `DetectorSet` runs only the models that produce
them (e.g. the COCO model for parking, an operator's litter model for litter) and merges their
results into one `sv.Detections`. A detector may have a `Scope`: the cameras it runs for, and the
labels it takes over there (a promoted litter model serves `litter` on two cameras; the others
keep the model they had).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import supervision as sv

from vision.detect.batching import BatchingDetector
from vision.detect.detector import Detector, DetectorError
from vision.labels import expand_labels, select


@dataclass(frozen=True)
class Scope:
    """Where one detector of a set runs: `cameras` (None: every camera), and the labels it `serves`
    there (None: its own labels, beside the other detectors; a set: it alone gives those labels
    on those cameras, replacing the others for them).

    Example:
        >>> Scope(cameras=frozenset({"cam-2"}), serves=frozenset({"litter"})).covers("cam-1")
        False
    """

    cameras: frozenset[str] | None = None
    serves: frozenset[str] | None = None

    def covers(self, camera_id: str) -> bool:
        """Whether the detector runs for `camera_id`."""
        return self.cameras is None or camera_id in self.cameras


class DetectorSet:
    """Named detectors, each behind its own `BatchingDetector`; runs only the ones a camera needs.

    `detect(camera_id, image, labels)` runs every detector that produces at least one of `labels`
    (group names such as `vehicle` expand to their members; `None` means all detectors) and merges
    their detections into one `sv.Detections` with `data['label']`. With `scopes`, a detector runs
    only for the cameras of its scope and gives only the labels it is responsible for there (a
    detector that `serves` a label takes it over from the ones before it; later ones win).

    Example:
        >>> detectors = load_detector_set(config.detector, config.detectors)  # doctest: +SKIP
        >>> detectors.detect("cam-1", frame.image, labels=["vehicle", "litter"])  # doctest: +SKIP
    """

    def __init__(
        self,
        detectors: Mapping[str, Detector],
        max_batch: int = 1,
        max_wait_s: float = 0.02,
        workers: int = 1,
        scopes: Mapping[str, Scope] | None = None,
    ):
        if not detectors:
            raise DetectorError("a detector set needs at least one detector")
        self.detectors = dict(detectors)
        unknown = sorted(set(scopes or {}) - set(self.detectors))
        if unknown:
            raise DetectorError(f"scopes name unknown detectors: {', '.join(unknown)}")
        #: Where each scoped detector runs and what it serves (unscoped ones: everywhere, their labels).
        self.scopes = dict(scopes or {})
        self.batching = {
            name: BatchingDetector(det, max_batch=max_batch, max_wait_s=max_wait_s, workers=workers)
            for name, det in self.detectors.items()
        }
        #: Calls per detector name.
        self.calls: Counter[str] = Counter()

    def responsible(self, camera_id: str | None) -> dict[str, frozenset[str]]:
        """The labels each detector gives for `camera_id` (None: ignoring scopes), by name; a
        detector absent from the answer does not run there."""
        if camera_id is None or not self.scopes:
            return {name: det.labels for name, det in self.detectors.items()}
        owner: dict[str, str] = {}  # label -> the detector that took it over on this camera
        for name, scope in self.scopes.items():
            if scope.serves is not None and scope.covers(camera_id):
                owner.update(dict.fromkeys(scope.serves & self.detectors[name].labels, name))
        out = {}
        for name, det in self.detectors.items():
            scope = self.scopes.get(name, Scope())
            if not scope.covers(camera_id):
                continue
            mine = frozenset(label for label in det.labels if owner.get(label, name) == name)
            if mine:
                out[name] = mine
        return out

    def needed(self, labels: Iterable[str] | None, camera_id: str | None = None) -> list[str]:
        """Names of the detectors that give any of `labels` (all of them for `None`) on `camera_id`."""
        responsible = self.responsible(camera_id)
        if labels is None:
            return list(responsible)
        wanted = expand_labels(tuple(labels))
        return [name for name, given in responsible.items() if given & wanted]

    def detect(
        self, camera_id: str, image: np.ndarray, labels: Iterable[str] | None = None, priority: int = 0
    ) -> sv.Detections:
        """Merged, labelled detections of the needed detectors (empty when none is needed)."""
        responsible = self.responsible(camera_id)
        names = self.needed(labels, camera_id)
        parts = []
        for name in names:
            self.calls[name] += 1
            found = self.batching[name].detect(camera_id, image, priority=priority)
            if len(found) and responsible[name] != self.detectors[name].labels:
                found = select(found, np.isin(found.data["label"], list(responsible[name])))
            parts.append(found)
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
