"""A YOLO-format dataset from the operators' reviews, split by camera and day.

`export_dataset` collects samples (`citywatch.learning.sources`), keeps the chosen labels, puts
whole (camera, UTC day) groups into train or val (`split_groups`: seeded, deterministic; val never
shares a scene-day with train), copies each image (never holding more than one file's bytes) and
writes `images/{train,val}/`, `labels/{train,val}/` (`class cx cy w h`, normalised), `data.yaml`
and `manifest.jsonl` (one line per sample, with its split and group).

Example:
    >>> report = export_dataset(session, Path("data/evidence"), Path("data/ds"), labels=["litter"])  # doctest: +SKIP
    >>> report.counts  # doctest: +SKIP
    {'train': 40, 'val': 11}
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session

from citywatch.learning.sources import Box, Sample, collect

MANIFEST = "manifest.jsonl"
SPLITS = ("train", "val")


class DatasetError(Exception):
    """An export that cannot be made: an empty selection, too few groups, an unwritable folder."""


@dataclass
class ExportReport:
    """What an export wrote: samples per split, the groups of each, labels, what was left out."""

    out: Path
    names: list[str]
    counts: dict[str, int]
    groups: dict[str, list[str]]
    kinds: dict[str, int]
    negatives: int
    skipped: list[str] = field(default_factory=list)
    manifest_sha256: str = ""


def group_of(sample: Sample) -> str:
    """The split group of a sample: its camera and UTC day, e.g. `campus-road/2026-12-01`."""
    taken = sample.taken_at if sample.taken_at.tzinfo else sample.taken_at.replace(tzinfo=UTC)
    return f"{sample.camera_id}/{taken.astimezone(UTC).date().isoformat()}"


def split_groups(sizes: dict[str, int], val_fraction: float, seed: int = 0) -> dict[str, str]:
    """Group -> split: groups in a seeded order, into val until it holds `val_fraction` of the
    samples (at least one group when there are two or more and the fraction is above 0), the rest
    train (never all: train keeps at least one group). Pure and deterministic."""
    order = sorted(sizes, key=lambda g: hashlib.sha256(f"{seed}:{g}".encode()).hexdigest())
    total = sum(sizes.values())
    out = dict.fromkeys(order, "train")
    if val_fraction <= 0 or len(order) < 2:
        return out
    held = 0
    for group in order[:-1]:
        if held and held + sizes[group] / 2 > val_fraction * total:
            break
        out[group] = "val"
        held += sizes[group]
        if held >= val_fraction * total:
            break
    return out


def keep_labels(samples: Sequence[Sample], labels: Sequence[str] | None) -> list[Sample]:
    """Samples with only the boxes of `labels` (None: all); a sample whose boxes were all of other
    labels is dropped (it is no negative for them), true negatives (no boxes) stay when their
    event's label is one of `labels` or unknown."""
    if not labels:
        return list(samples)
    wanted = set(labels)
    out = []
    for sample in samples:
        if not sample.boxes:
            if sample.ids.get("label") in (None, *wanted):
                out.append(sample)
            continue
        boxes = tuple(b for b in sample.boxes if b.label in wanted)
        if boxes:
            out.append(replace(sample, boxes=boxes))
    return out


def label_line(box: Box, names: Sequence[str]) -> str:
    """One YOLO label line: `class cx cy w h`, normalised."""
    x1, y1, x2, y2 = box.xyxy
    return f"{names.index(box.label)} {(x1 + x2) / 2:.6f} {(y1 + y2) / 2:.6f} {x2 - x1:.6f} {y2 - y1:.6f}"


def _stem(sample: Sample, n: int) -> str:
    key = sample.ids.get("event_id") or sample.ids.get("annotation_id") or sample.ids.get("action_id") or n
    return f"{sample.kind}-{key}-{n}"


def export_dataset(
    session: Session,
    evidence_dir: Path,
    out: Path,
    since: datetime | None = None,
    until: datetime | None = None,
    labels: Sequence[str] | None = None,
    val_fraction: float = 0.2,
    seed: int = 0,
) -> ExportReport:
    """Write the dataset of the reviews in [since, until) to `out`; `DatasetError` when nothing
    (or, with a val split asked for, only one camera-day group) is selected."""
    if not 0 <= val_fraction < 1:
        raise DatasetError(f"val fraction {val_fraction} must be in [0, 1)")
    found, skipped = collect(session, Path(evidence_dir), since, until)
    samples = keep_labels(found, labels)
    if not any(s.boxes for s in samples):
        raise DatasetError(
            f"no reviewed sample with a box{' of ' + ', '.join(labels) if labels else ''} between "
            f"{since or 'the start'} and {until or 'now'} ({len(found)} sample(s) found, {len(skipped)} left out): "
            "confirm some alerts or annotate frames first"
        )
    names = list(labels) if labels else sorted({b.label for s in samples for b in s.boxes})
    sizes = Counter(group_of(s) for s in samples)
    if val_fraction > 0 and len(sizes) < 2:
        raise DatasetError(
            f"only one camera-day group ({next(iter(sizes))}): a held-back split needs samples from two "
            "cameras or days (or --val-fraction 0)"
        )
    assignment = split_groups(dict(sizes), val_fraction, seed)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise DatasetError(f"{out} exists and is not empty; choose a new folder")
    for split in SPLITS:
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    counts: Counter[str] = Counter()
    digest = hashlib.sha256()
    with (out / MANIFEST).open("w", encoding="utf-8") as manifest:
        for n, sample in enumerate(samples):
            group = group_of(sample)
            split = assignment[group]
            stem = _stem(sample, n)
            image = Path("images") / split / f"{stem}{sample.image.suffix.lower() or '.jpg'}"
            shutil.copyfile(sample.image, out / image)  # streamed copy: one file at a time
            label_file = Path("labels") / split / f"{stem}.txt"
            lines = [label_line(b, names) for b in sample.boxes]
            (out / label_file).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
            line = json.dumps(_manifest_line(sample, split, group, image, label_file), ensure_ascii=False)
            manifest.write(line + "\n")
            digest.update(line.encode("utf-8"))
            counts[split] += 1
    data = {"path": str(out.resolve()), "train": "images/train", "val": "images/val", "names": dict(enumerate(names))}
    (out / "data.yaml").write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    groups = {split: sorted(g for g, s in assignment.items() if s == split) for split in SPLITS}
    return ExportReport(
        out=out,
        names=names,
        counts={split: counts[split] for split in SPLITS},
        groups=groups,
        kinds=dict(Counter(s.kind for s in samples)),
        negatives=sum(1 for s in samples if not s.boxes),
        skipped=skipped,
        manifest_sha256=digest.hexdigest(),
    )


def _manifest_line(sample: Sample, split: str, group: str, image: Path, label_file: Path) -> dict[str, Any]:
    return {
        "split": split,
        "group": group,
        "kind": sample.kind,
        "ids": sample.ids,
        "camera": sample.camera_id,
        "stream_ts": sample.stream_ts,
        "taken_at": sample.taken_at.isoformat(),
        "review": sample.review,
        "reason": sample.reason,
        "image": image.as_posix(),
        "labels": label_file.as_posix(),
        "source": str(sample.image),
        "boxes": [{"label": b.label, "box": list(b.xyxy)} for b in sample.boxes],
    }


def manifest_sha256(dataset: Path) -> str:
    """The sha256 of a dataset's manifest lines (its identity in a trained model's provenance)."""
    digest = hashlib.sha256()
    with (Path(dataset) / MANIFEST).open("rb") as handle:
        for line in handle:
            digest.update(line.rstrip(b"\n"))
    return digest.hexdigest()


def read_manifest(dataset: Path, split: str | None = None) -> list[dict[str, Any]]:
    """The manifest lines of a dataset (of one split when given); `DatasetError` when there is none."""
    path = Path(dataset) / MANIFEST
    if not path.is_file():
        raise DatasetError(f"{dataset} is not an exported dataset: {path} is missing")
    with path.open(encoding="utf-8") as handle:
        lines = [json.loads(line) for line in handle if line.strip()]
    return [line for line in lines if split is None or line["split"] == split]


def dataset_names(dataset: Path) -> list[str]:
    """The class names of a dataset's data.yaml, in class order."""
    data = yaml.safe_load((Path(dataset) / "data.yaml").read_text(encoding="utf-8"))
    names = data["names"]
    return [names[i] for i in sorted(names)] if isinstance(names, dict) else list(names)
