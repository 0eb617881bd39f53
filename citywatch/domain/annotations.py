"""Operators' box annotations (标注): labelled boxes on an evidence frame or a camera's frame, kept
as training data for the detector (the dataset exporter reads them with `list_annotations`).

The image is on disk before the row (`store_frame` writes a camera frame durably under
`<evidence_dir>/annotations/`; an event's annotation reuses its trigger evidence); `image_path` is
relative to `storage.evidence_dir`. `check_boxes` is the pure validation; a deleted annotation keeps
its row for the audit trail (`deleted_by`, `deleted_at`) and is left out of every listing.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from citywatch.domain.tables import Annotation, Event, utcnow
from vision.evidence import write_durably
from vision.labels import CITYWATCH_LABELS

#: The most boxes one annotation may hold unless the config says otherwise (`feedback.max_boxes`).
MAX_BOXES = 100
#: The longest label name.
MAX_LABEL = 40


class AnnotationError(ValueError):
    """An annotation that cannot be stored; `problems` says why, one sentence each."""

    def __init__(self, problems: Sequence[str]):
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def allowed_labels(extra: Iterable[str] = ()) -> frozenset[str]:
    """The labels an annotation may use: Citywatch's own and the configured extra ones."""
    return CITYWATCH_LABELS | frozenset(extra)


def check_boxes(boxes: Any, labels: frozenset[str], max_boxes: int = MAX_BOXES) -> list[str]:
    """Problems with `boxes` (a list of `{"label", "box": [x1, y1, x2, y2]}` normalised 0..1 with
    x1 < x2 and y1 < y2, at most `max_boxes`); [] when they are fine.

    Example:
        >>> check_boxes([{"label": "car", "box": [0.1, 0.2, 0.3, 0.4]}], frozenset({"car"}))
        []
        >>> check_boxes([{"label": "cat", "box": [0.5, 0.2, 0.3, 1.2]}], frozenset({"car"}))
        ["box 0: unknown label 'cat'", 'box 0: coordinates must lie within 0..1', 'box 0: needs x1 < x2 and y1 < y2']
    """
    if not isinstance(boxes, list):
        return ["boxes must be a list"]
    if len(boxes) > max_boxes:
        return [f"{len(boxes)} boxes, over the {max_boxes} one annotation may hold"]
    problems: list[str] = []
    for index, entry in enumerate(boxes):
        label = entry.get("label") if isinstance(entry, dict) else None
        box = entry.get("box") if isinstance(entry, dict) else None
        if not isinstance(label, str) or label not in labels:
            problems.append(f"box {index}: unknown label {label!r}")
        numbers = isinstance(box, list | tuple) and len(box) == 4
        numbers = numbers and all(isinstance(v, int | float) and not isinstance(v, bool) for v in box)  # type: ignore[union-attr]
        if not numbers or not all(math.isfinite(v) for v in box):  # type: ignore[union-attr]
            problems.append(f"box {index}: box must be four numbers [x1, y1, x2, y2]")
            continue
        x1, y1, x2, y2 = box  # type: ignore[misc]
        if not all(0.0 <= v <= 1.0 for v in (x1, y1, x2, y2)):
            problems.append(f"box {index}: coordinates must lie within 0..1")
        if not (x1 < x2 and y1 < y2):
            problems.append(f"box {index}: needs x1 < x2 and y1 < y2")
    return problems


def frame_path(camera_id: str, taken_at: datetime, jpeg: bytes) -> str:
    """Where a camera frame kept for annotation goes, relative to the evidence directory:
    annotations/<camera>/<UTC day>/<sha256 of the JPEG>.jpg (the same frame is stored once)."""
    day = taken_at.astimezone(UTC).strftime("%Y%m%d")
    return f"annotations/{camera_id}/{day}/{hashlib.sha256(jpeg).hexdigest()}.jpg"


def store_frame(evidence_dir: str | Path, camera_id: str, taken_at: datetime, jpeg: bytes) -> str:
    """Write a camera frame durably (temp file, fsync, rename) and answer its path relative to
    `evidence_dir`; an `OSError` (full disk) leaves nothing behind."""
    relative = frame_path(camera_id, taken_at, jpeg)
    target = Path(evidence_dir) / relative
    if not target.is_file():
        write_durably(target, jpeg)
    return relative


def evidence_relative(evidence_dir: str | Path, path: str) -> str | None:
    """`path` (an event's evidence file) relative to `evidence_dir`; None when it lies outside it."""
    root, file = Path(evidence_dir).resolve(), Path(path).resolve()
    return str(file.relative_to(root)) if file.is_relative_to(root) else None


def event_image(evidence_dir: str | Path, event: Event) -> str | None:
    """The relative path of the event's trigger evidence when that file is there; else None."""
    if not event.snapshot_path or not Path(event.snapshot_path).is_file():
        return None
    return evidence_relative(evidence_dir, event.snapshot_path)


def add_annotation(
    session: Session,
    *,
    camera_id: str,
    stream_ts: float,
    taken_at: datetime,
    image_path: str,
    boxes: list[dict[str, Any]],
    created_by: str,
    event_id: int | None = None,
    labels: frozenset[str] = CITYWATCH_LABELS,
    max_boxes: int = MAX_BOXES,
) -> Annotation:
    """Validate and add one annotation (the image at `image_path` must already be on disk); raises
    `AnnotationError`. Nothing is committed: the caller's session does."""
    problems = check_boxes(boxes, labels, max_boxes)
    if problems:
        raise AnnotationError(problems)
    row = Annotation(
        id=str(uuid.uuid4()),
        camera_id=camera_id,
        stream_ts=float(stream_ts),
        taken_at=taken_at,
        image_path=image_path,
        boxes=[{"label": b["label"], "box": [float(v) for v in b["box"]]} for b in boxes],
        event_id=event_id,
        created_by=created_by,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def _listed(query: Select[Any], since: datetime | None, until: datetime | None, camera_id: str | None) -> Select[Any]:
    query = query.where(Annotation.deleted_at.is_(None))
    if since is not None:
        query = query.where(Annotation.taken_at >= since)
    if until is not None:
        query = query.where(Annotation.taken_at < until)
    if camera_id:
        query = query.where(Annotation.camera_id == camera_id)
    return query


def list_annotations(
    session: Session,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    camera_id: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[Annotation]:
    """The annotations (not deleted) whose frame was taken in [since, until), oldest first (by
    `taken_at`, then id); a page of them with `limit` and `offset`."""
    query = _listed(select(Annotation), since, until, camera_id).order_by(Annotation.taken_at, Annotation.id)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query.offset(offset)))


def count_annotations(
    session: Session, since: datetime | None = None, until: datetime | None = None, *, camera_id: str | None = None
) -> int:
    """How many annotations `list_annotations` would list without a page."""
    return session.scalar(_listed(select(func.count(Annotation.id)), since, until, camera_id)) or 0


def delete_annotation(session: Session, annotation_id: str, actor: str) -> Annotation | None:
    """Mark an annotation deleted by `actor` (the row and its image stay, for the audit trail);
    None when there is no such annotation or it was deleted already."""
    row = session.get(Annotation, annotation_id, with_for_update=True)
    if row is None or row.deleted_at is not None:
        return None
    row.deleted_by, row.deleted_at = actor, utcnow()
    return row
