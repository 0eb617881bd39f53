"""Label mapping: a model's class names become Citywatch labels that rules can name.

Rules speak Citywatch's vocabulary (car, truck, bus, motorcycle, bicycle, tricycle, e-bike,
low_speed_ev, person, litter, water, debris, and the objects that occupy parking bays:
traffic_cone, parking_lock, chair, obstacle), never one model's class names; each model carries a
mapping (from the model manifest, or COCO's by default). Vehicle classes are also grouped so that
one vehicle reported as both car and truck at the same place counts once; `vehicle_kind` says how
the bureau counts a vehicle label (two-, three- or four-wheel e-vehicle, or car).
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
#: The e-vehicles the bureau counts separately: two-wheel (e-bike), three-wheel (tricycle) and
#: four-wheel low-speed (`low_speed_ev`, 老年代步车: not a non-motor vehicle in law, so not in
#: `non_motor`; a `non_motor_parking` rule watches it when its labels name it or `e_vehicle`).
E_VEHICLE = frozenset({"e-bike", "tricycle", "low_speed_ev"})
#: Objects put in a parking bay to hold it (霸占停车资源): what `parking_space_occupied` watches.
OCCUPIER = frozenset({"traffic_cone", "parking_lock", "chair", "obstacle"})
#: Label groups: a rule naming the group name matches every label in it. `group_of` (one object
#: reported under two labels counts once) takes the first group holding a label: e-bikes and
#: tricycles stay in `non_motor` (`e_vehicle` and `occupier` only name labels for rules).
GROUPS: dict[str, frozenset[str]] = {
    "vehicle": VEHICLE,
    "non_motor": NON_MOTOR,
    "e_vehicle": E_VEHICLE,
    "occupier": OCCUPIER,
}

#: How the bureau counts a vehicle label (the `vehicle_kind` of a tow, `citywatch.domain.enforcement`).
#: Without a model that tells e-bikes apart, COCO's `bicycle` and `motorcycle` (the classes an
#: e-bike or an electric scooter is detected as) count as two-wheel: the baseline's assumption.
VEHICLE_KINDS: dict[str, str] = {
    "e-bike": "two_wheel",
    "bicycle": "two_wheel",
    "motorcycle": "two_wheel",
    "tricycle": "three_wheel",
    "low_speed_ev": "four_wheel_e",
    "car": "car",
    "truck": "car",
    "bus": "car",
}

#: Labels of things that move through a scene (people, vehicles): the model-free baselines mask
#: their boxes out, so they are never litter, water or background.
MOVERS = VEHICLE | NON_MOTOR | E_VEHICLE | frozenset({"person"})

#: Every label a mapping may produce (rules may also name the groups of `GROUPS`).
CITYWATCH_LABELS = VEHICLE | NON_MOTOR | E_VEHICLE | OCCUPIER | frozenset({"person", "litter", "water", "debris"})

#: COCO class names (as YOLOX and ultralytics spell them) to Citywatch labels; others are dropped.
COCO_MAPPING: dict[str, str] = {
    "person": "person",
    "bicycle": "bicycle",
    "car": "car",
    "motorbike": "motorcycle",
    "motorcycle": "motorcycle",
    "bus": "bus",
    "truck": "truck",
    "chair": "chair",
    "bench": "obstacle",
    "suitcase": "obstacle",
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


def vehicle_kind(label: str | None) -> str | None:
    """The bureau's count for a vehicle label (`two_wheel`, `three_wheel`, `four_wheel_e`, `car`),
    or None for a label that is no vehicle."""
    return VEHICLE_KINDS.get(label or "")


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
