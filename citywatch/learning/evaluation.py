"""Scoring a model on a dataset's held-back split, and whether a candidate is not worse than the current one.

`score_model` opens a model through the model store (any backend: the current YOLOX model as much
as a trained `.pt`), runs it at the runtime's score threshold on each val image in turn (one
image in memory at a time) and matches its boxes of the dataset's labels to the reviewed ones
(IoU >= 0.5, highest score first, one to one): precision, recall, F1, per label. For an
ultralytics model whose classes are the dataset's it adds ultralytics' own mAP50 (`model.val`,
over every score: a ranking figure, blind to the threshold). `not_worse` is the promotion gate.

Example:
    >>> figures = score_model("litter-v1", Path("data/litter-ds"), ["models"])  # doctest: +SKIP
    >>> not_worse(figures, score_model("yolox-nano-coco", Path("data/litter-ds"), ["models"]))  # doctest: +SKIP
    (True, [])
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from citywatch.config import DetectorConfig
from citywatch.detectors import load_detector, model_spec
from citywatch.learning.dataset import dataset_names, read_manifest
from citywatch.learning.training import offline_environment, pick_device

IOU_MATCH = 0.5


@dataclass
class Figures:
    """One model's figures on one dataset split."""

    model: str
    images: int
    tp: int
    fp: int
    fn: int
    per_label: dict[str, dict[str, float]] = field(default_factory=dict)
    map50: float | None = None

    @property
    def precision(self) -> float:
        """Share of the model's boxes that match a reviewed one (0 when it gave none)."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        """Share of the reviewed boxes the model found (1 when there were none)."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures, rounded."""
        rounded = {"precision": round(self.precision, 4), "recall": round(self.recall, 4), "f1": round(self.f1, 4)}
        return {**asdict(self), **rounded}


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes."""
    x1, y1, x2, y2 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match(
    truth: Sequence[Sequence[float]], found: Sequence[Sequence[float]], scores: Sequence[float]
) -> tuple[int, int, int]:
    """(tp, fp, fn) of one label in one image: found boxes, best score first, each take the
    unmatched truth box of highest IoU at or above `IOU_MATCH`."""
    free = list(range(len(truth)))
    tp = 0
    for index in sorted(range(len(found)), key=lambda i: -scores[i]):
        best = max(free, key=lambda t: iou(truth[t], found[index]), default=None)
        if best is not None and iou(truth[best], found[index]) >= IOU_MATCH:
            free.remove(best)
            tp += 1
    return tp, len(found) - tp, len(free)


def score_model(
    model: str,
    dataset: Path,
    model_dirs: list[str],
    split: str = "val",
    confidence: float = 0.3,
    with_map: bool = True,
) -> Figures:
    """The figures of `model` (a store name or path) on `split` of `dataset`."""
    names = dataset_names(dataset)
    config = DetectorConfig(model=model, model_dirs=model_dirs, confidence=confidence, threads=None)
    detector = load_detector(config)
    counts: dict[str, Counter[str]] = {label: Counter() for label in names}
    lines = read_manifest(dataset, split)
    for line in lines:
        image = cv2.imread(str(Path(dataset) / line["image"]))
        if image is None:
            raise ValueError(f"dataset image {Path(dataset) / line['image']} cannot be read")
        height, width = image.shape[:2]
        found = detector.detect([image])[0]
        labels = np.asarray(found.data.get("label", []), dtype=object)
        for label in names:
            truth = [b["box"] for b in line["boxes"] if b["label"] == label]
            mine = labels == label
            boxes = [[x1 / width, y1 / height, x2 / width, y2 / height] for x1, y1, x2, y2 in found.xyxy[mine]]
            scores = list(found.confidence[mine]) if found.confidence is not None else [1.0] * len(boxes)
            tp, fp, fn = match(truth, boxes, scores)
            counts[label].update(tp=tp, fp=fp, fn=fn)
    per_label = {label: Figures(model, len(lines), c["tp"], c["fp"], c["fn"]).as_dict() for label, c in counts.items()}
    figures = Figures(
        model=model,
        images=len(lines),
        tp=sum(c["tp"] for c in counts.values()),
        fp=sum(c["fp"] for c in counts.values()),
        fn=sum(c["fn"] for c in counts.values()),
        per_label={
            label: {k: v[k] for k in ("tp", "fp", "fn", "precision", "recall")} for label, v in per_label.items()
        },
    )
    if with_map:
        figures.map50 = ultralytics_map50(config, dataset, names)
    return figures


def ultralytics_map50(config: DetectorConfig, dataset: Path, names: list[str]) -> float | None:
    """mAP50 from ultralytics' validator for a `.pt` model whose classes are the dataset's; else None."""
    spec = model_spec(config)
    if spec.backend != "ultralytics" or list(spec.class_names) != names:
        return None
    offline_environment(Path(spec.path).parent / ".ultralytics")
    # deferred until the offline environment is set: ultralytics reads it when imported
    from ultralytics import YOLO

    metrics = YOLO(str(spec.path), task="detect").val(
        data=str((Path(dataset) / "data.yaml").resolve()), split="val", imgsz=spec.input_size or 320, plots=False,
        device=pick_device("auto"), workers=0, verbose=False, batch=4,
    )  # fmt: skip
    return round(float(metrics.box.map50), 4)


def not_worse(candidate: Figures, current: Figures, tolerance: float = 0.0) -> tuple[bool, list[str]]:
    """Whether `candidate` may replace `current`: precision, recall (and mAP50 when both have it)
    no more than `tolerance` below, and at least one true positive. Returns the reasons when not."""
    reasons = []
    if candidate.tp == 0:
        reasons.append(f"{candidate.model} found none of the {candidate.tp + candidate.fn} reviewed object(s)")
    for figure in ("precision", "recall"):
        mine, theirs = getattr(candidate, figure), getattr(current, figure)
        if mine < theirs - tolerance:
            reasons.append(f"{figure} {mine:.3f} is below {current.model}'s {theirs:.3f}")
    if candidate.map50 is not None and current.map50 is not None and candidate.map50 < current.map50 - tolerance:
        reasons.append(f"mAP50 {candidate.map50:.3f} is below {current.model}'s {current.map50:.3f}")
    return not reasons, reasons
