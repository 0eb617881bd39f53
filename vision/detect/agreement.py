"""How closely one detector's boxes agree with a reference detector's on the same frames.

Used to validate a derived model (INT8, another engine) against the FP32 onnxruntime model taken as
pseudo ground truth: recall and precision at an IoU threshold, per label group (vehicle, person),
and the mean IoU of the matched boxes. Boxes are matched greedily by score within a group.

Example:
    >>> agreement([reference_detections], [variant_detections], class_names).recall  # doctest: +SKIP
    0.97
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import supervision as sv

#: COCO classes (YOLOX's names) compared, by group.
GROUPS = {"person": "person", "car": "vehicle", "motorbike": "vehicle", "bus": "vehicle", "truck": "vehicle"}


@dataclass(frozen=True)
class Agreement:
    """Matches between reference and candidate boxes over a set of frames.

    Example:
        >>> Agreement(reference=10, candidate=9, matched=9, iou_sum=8.1).recall
        0.9
    """

    reference: int
    candidate: int
    matched: int
    iou_sum: float

    @property
    def recall(self) -> float:
        """Share of the reference's boxes that the candidate found."""
        return self.matched / self.reference if self.reference else 1.0

    @property
    def precision(self) -> float:
        """Share of the candidate's boxes that the reference has too."""
        return self.matched / self.candidate if self.candidate else 1.0

    @property
    def mean_iou(self) -> float:
        """Mean IoU of the matched pairs."""
        return self.iou_sum / self.matched if self.matched else 0.0

    def as_dict(self) -> dict[str, float | int]:
        """Plain numbers, for manifests and reports."""
        return {
            "reference_boxes": self.reference,
            "recall": round(self.recall, 4),
            "precision": round(self.precision, 4),
            "mean_iou": round(self.mean_iou, 4),
        }


def _grouped(detections: sv.Detections, class_names: Sequence[str], min_score: float) -> dict[str, sv.Detections]:
    """Boxes of the compared classes scoring at least `min_score`, by group."""
    if not len(detections):
        return {}
    class_id = np.asarray(detections.class_id, dtype=int)
    score = np.asarray(detections.confidence, dtype=np.float32)
    groups = [GROUPS.get(class_names[c], "") for c in class_id]
    out: dict[str, sv.Detections] = {}
    for group in {g for g in groups if g}:
        mask = np.array([g == group for g in groups]) & (score >= min_score)
        if mask.any():
            out[group] = detections[mask]  # type: ignore[assignment]  # a mask index gives Detections
    return out


def match(reference: sv.Detections, candidate: sv.Detections, iou: float) -> list[float]:
    """IoUs of greedy one-to-one matches (candidate boxes by descending score) at >= `iou`."""
    if not len(reference) or not len(candidate):
        return []
    ious = sv.box_iou_batch(candidate.xyxy, reference.xyxy)
    taken = np.zeros(len(reference), dtype=bool)
    matched = []
    for row in np.argsort(-np.asarray(candidate.confidence), kind="stable"):
        scores = np.where(taken, -1.0, ious[row])
        best = int(scores.argmax())
        if scores[best] >= iou:
            taken[best] = True
            matched.append(float(scores[best]))
    return matched


def agreement(
    reference: Sequence[sv.Detections],
    candidate: Sequence[sv.Detections],
    class_names: Sequence[str],
    iou: float = 0.5,
    min_score: float = 0.3,
) -> Agreement:
    """Agreement of `candidate` with `reference`, frame by frame, over vehicle and person boxes
    scoring at least `min_score`."""
    ref_total = cand_total = 0
    ious: list[float] = []
    for ref, cand in zip(reference, candidate, strict=True):
        ref_groups, cand_groups = _grouped(ref, class_names, min_score), _grouped(cand, class_names, min_score)
        ref_total += sum(len(d) for d in ref_groups.values())
        cand_total += sum(len(d) for d in cand_groups.values())
        for group, ref_boxes in ref_groups.items():
            if group in cand_groups:
                ious.extend(match(ref_boxes, cand_groups[group], iou))
    return Agreement(reference=ref_total, candidate=cand_total, matched=len(ious), iou_sum=float(sum(ious)))
