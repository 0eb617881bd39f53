"""Label mapping: a model's class names become Citywatch labels that rules can name.

Rules speak Citywatch's vocabulary (car, truck, bus, motorcycle, bicycle, tricycle, e-bike, person,
litter, water), never one model's class names; each model carries a mapping (from the model
manifest, or COCO's by default). Vehicle classes are also grouped so that one vehicle reported as
both car and truck at the same place counts once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

import numpy as np
import supervision as sv

#: Motor vehicles: the labels `illegal_parking` watches by default.
VEHICLE = frozenset({"car", "truck", "bus", "motorcycle"})
#: Non-motor vehicles: bicycles, e-bikes, tricycles.
NON_MOTOR = frozenset({"bicycle", "e-bike", "tricycle"})
#: Label groups: a rule naming the group name matches every label in it.
GROUPS: dict[str, frozenset[str]] = {"vehicle": VEHICLE, "non_motor": NON_MOTOR}

#: Labels of things that move through a scene (people, vehicles): the model-free baselines mask
#: their boxes out, so they are never litter, water or background.
MOVERS = VEHICLE | NON_MOTOR | frozenset({"person"})

#: Every label a mapping may produce (rules may also name the groups `vehicle` and `non_motor`).
CITYWATCH_LABELS = VEHICLE | NON_MOTOR | frozenset({"person", "litter", "water"})

#: COCO class names (as YOLOX and ultralytics spell them) to Citywatch labels; others are dropped.
COCO_MAPPING: dict[str, str] = {
    "person": "person",
    "bicycle": "bicycle",
    "car": "car",
    "motorbike": "motorcycle",
    "motorcycle": "motorcycle",
    "bus": "bus",
    "truck": "truck",
}


def expand_labels(labels: list[str] | tuple[str, ...]) -> frozenset[str]:
    """Rule labels with group names (`vehicle`, `non_motor`) expanded to their members."""
    out: set[str] = set()
    for label in labels:
        out |= GROUPS.get(label, frozenset({label}))
    return frozenset(out)


def group_of(label: str) -> str:
    """The group a label belongs to (`vehicle`, `non_motor`), or the label itself."""
    for name, members in GROUPS.items():
        if label in members:
            return name
    return label


def map_labels(detections: sv.Detections, class_names: list[str], mapping: Mapping[str, str]) -> sv.Detections:
    """Attach `data['label']` from class ids; drop detections whose class has no mapping."""
    if len(detections) == 0:
        detections.data["label"] = np.array([], dtype=object)
        return detections
    class_ids = detections.class_id if detections.class_id is not None else np.zeros(len(detections), dtype=int)
    names = [class_names[int(c)] if 0 <= int(c) < len(class_names) else str(int(c)) for c in class_ids]
    labels = np.array([mapping.get(name, "") for name in names], dtype=object)
    keep = labels != ""
    kept = select(detections, keep)
    kept.data["label"] = labels[keep]
    return kept


def select(detections: sv.Detections, keep: np.ndarray) -> sv.Detections:
    """The detections where the boolean mask `keep` is true (supervision's indexing, typed)."""
    return cast(sv.Detections, detections[keep])


def merge_same_object(detections: sv.Detections, iou_threshold: float = 0.6) -> sv.Detections:
    """Collapse boxes of one group (e.g. car and truck) that overlap above `iou_threshold` into the
    highest-scoring one, so one vehicle is one detection whatever classes the model gives it."""
    if len(detections) < 2:
        return detections
    groups = np.array([group_of(str(label)) for label in detections.data["label"]], dtype=object)
    scores = detections.confidence if detections.confidence is not None else np.ones(len(detections))
    order = np.argsort(-scores)
    iou = sv.box_iou_batch(detections.xyxy, detections.xyxy)
    suppressed = np.zeros(len(detections), dtype=bool)
    for i in order:
        if suppressed[i]:
            continue
        same = (groups == groups[i]) & (iou[i] > iou_threshold)
        same[i] = False
        suppressed |= same
    return select(detections, ~suppressed)


def parse_mapping(text: str) -> dict[str, str]:
    """`"class=label,class=label"` (the `--labels` option) to a mapping; `ValueError` when malformed
    or when a target is not a Citywatch label."""
    mapping: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        source, sep, target = part.partition("=")
        if not sep or not source.strip() or not target.strip():
            raise ValueError(f"bad label mapping {part!r}: expected class=label")
        mapping[source.strip()] = target.strip()
    validate_mapping(mapping)
    return mapping


def validate_mapping(mapping: Mapping[str, str]) -> None:
    """`ValueError` naming the labels of `mapping` that Citywatch does not know."""
    unknown = sorted({label for label in mapping.values() if label not in CITYWATCH_LABELS})
    if unknown:
        raise ValueError(f"unknown Citywatch label(s) {unknown}; known: {sorted(CITYWATCH_LABELS)}")
