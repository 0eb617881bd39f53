"""Where training samples come from: reviewed events, case photos with boxes, operator annotations.

Each source yields `Sample`s (an image on disk, its camera, time and normalised boxes); nothing
here reads pixels beyond an image's header (its size, to normalise an event's pixel box).
A confirmed event is its trigger evidence frame with the object's box and label; a rejected one
is a hard negative (no boxes) only when its reason says the detector saw the wrong object, since
an alert rejected for another reason (a permitted delivery van) shows a real object.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from citywatch.domain.annotations import list_annotations
from citywatch.domain.tables import Case, CaseAction, Event

#: Words of a rejection reason saying the detector saw the wrong object (the frame is a negative).
WRONG_OBJECT_WORDS = (
    "误检", "误识别", "识别错误", "不是", "并非", "阴影", "影子", "反光", "倒影",
    "wrong object", "not a ", "not litter", "not water", "misdetect", "false detection", "shadow", "reflection",
)  # fmt: skip
#: Rows read from the database at a time.
PAGE = 500


@dataclass(frozen=True)
class Box:
    """One labelled object, corners normalised to 0..1 (x1, y1, x2, y2)."""

    label: str
    xyxy: tuple[float, float, float, float]


@dataclass(frozen=True)
class Sample:
    """One image for the dataset: where it is, whence it came, and its boxes (none: a negative)."""

    kind: str  # event | case_photo | annotation
    ids: dict[str, Any]
    camera_id: str
    stream_ts: float | None
    taken_at: datetime
    review: str
    image: Path
    boxes: tuple[Box, ...] = field(default=())
    reason: str | None = None


def says_wrong_object(reason: str | None) -> bool:
    """Whether a rejection reason says the detector saw something that is not the object."""
    text = (reason or "").lower()
    return any(word in text for word in WRONG_OBJECT_WORDS)


def resolve_image(path: str | None, evidence_dir: Path) -> Path | None:
    """An image path as stored: absolute, relative to the evidence directory (annotations), or to
    the working directory (event evidence under a relative `storage.evidence_dir`)."""
    if not path:
        return None
    for candidate in (evidence_dir / path, Path(path)):
        if candidate.is_file():
            return candidate
    return None


def normalised(box: Iterable[float], size: tuple[int, int]) -> tuple[float, float, float, float]:
    """A pixel box (x1, y1, x2, y2) as fractions of the image, clipped to 0..1."""
    width, height = size
    x1, y1, x2, y2 = (float(v) for v in box)
    return (_unit(x1 / width), _unit(y1 / height), _unit(x2 / width), _unit(y2 / height))


def _unit(value: float) -> float:
    return min(1.0, max(0.0, value))


def _in_range(when: datetime, since: datetime | None, until: datetime | None) -> bool:
    return (since is None or when >= since) and (until is None or when < until)


def event_samples(
    session: Session, evidence_dir: Path, since: datetime | None, until: datetime | None, skipped: list[str]
) -> Iterator[Sample]:
    """Confirmed events (frame + box) and wrong-object rejections (negatives); `skipped` gets why others are left."""
    query = select(Event).where(Event.review_status.in_(("confirmed", "rejected"))).order_by(Event.id)
    if since is not None:
        query = query.where(Event.occurred_at >= since)
    if until is not None:
        query = query.where(Event.occurred_at < until)
    for event in session.scalars(query.execution_options(yield_per=500)):
        trigger = next((e.get("path") for e in event.evidence or [] if e.get("kind") == "trigger"), None)
        image = resolve_image(trigger or event.snapshot_path, evidence_dir)
        if image is None:
            skipped.append(f"event {event.id}: its evidence frame is missing")
            continue
        boxes: tuple[Box, ...] = ()
        if event.review_status == "confirmed":
            if not event.box or not event.label:
                skipped.append(f"event {event.id}: confirmed without a box or label")
                continue
            with Image.open(image) as opened:  # the header only: the size
                boxes = (Box(event.label, normalised(event.box, opened.size)),)
        elif not says_wrong_object(event.review_reason):
            skipped.append(f"event {event.id}: rejected for another reason than a wrong object")
            continue
        yield Sample(
            kind="event",
            ids={"event_id": event.id, "uid": event.uid, "rule_id": event.rule_id, "label": event.label},
            camera_id=event.camera_id,
            stream_ts=event.triggered_s,
            taken_at=event.occurred_at,
            review=event.review_status,
            image=image,
            boxes=boxes,
            reason=event.review_reason,
        )


def photo_file(url: str, case_id: int, evidence_dir: Path) -> Path:
    """The stored file of a case photo URL (`/api/cases/<id>/photos/<name>`, api.routes.case_photos)."""
    return evidence_dir / "cases" / str(case_id) / Path(url).name


def case_photo_samples(
    session: Session, evidence_dir: Path, since: datetime | None, until: datetime | None, skipped: list[str]
) -> Iterator[Sample]:
    """Photos of case steps whose `data.photo_boxes` maps the photo's URL to boxes
    ([{"label", "box": [x1, y1, x2, y2] normalised}]); photos without boxes are not samples."""
    query = select(CaseAction, Case.camera_id).join(Case, Case.id == CaseAction.case_id).order_by(CaseAction.id)
    for action, camera_id in session.execute(query.execution_options(yield_per=500)):
        marked = (action.data or {}).get("photo_boxes") or {}
        if not marked or not _in_range(action.at, since, until):
            continue
        for url in action.attachments or []:
            if url not in marked:
                continue
            image = photo_file(url, action.case_id, evidence_dir)
            if not image.is_file():
                skipped.append(f"case {action.case_id}: photo {url} is missing")
                continue
            yield Sample(
                kind="case_photo",
                ids={"case_id": action.case_id, "action_id": action.id, "url": url},
                camera_id=camera_id or "hotline",
                stream_ts=None,
                taken_at=action.at,
                review=action.to_status,
                image=image,
                boxes=tuple(_boxes(marked[url])),
            )


def _boxes(raw: Iterable[dict[str, Any]]) -> Iterator[Box]:
    for item in raw:
        x1, y1, x2, y2 = (_unit(float(v)) for v in item["box"])
        yield Box(str(item["label"]), (x1, y1, x2, y2))


def annotation_samples(
    session: Session, evidence_dir: Path, since: datetime | None, until: datetime | None, skipped: list[str]
) -> Iterator[Sample]:
    """Operators' annotations (`citywatch.domain.annotations`), read a page at a time."""
    offset = 0
    while page := list_annotations(session, since=since, until=until, limit=PAGE, offset=offset):
        offset += len(page)
        for row in page:
            image = resolve_image(row.image_path, evidence_dir)
            if image is None:
                skipped.append(f"annotation {row.id}: image {row.image_path} is missing")
                continue
            yield Sample(
                kind="annotation",
                ids={"annotation_id": row.id, "event_id": row.event_id, "created_by": row.created_by},
                camera_id=row.camera_id,
                stream_ts=row.stream_ts,
                taken_at=row.taken_at,
                review="annotated",
                image=image,
                boxes=tuple(_boxes(row.boxes or [])),
            )


def collect(
    session: Session, evidence_dir: Path, since: datetime | None = None, until: datetime | None = None
) -> tuple[list[Sample], list[str]]:
    """Every sample of every source in the time range, and why the rows left out were left."""
    skipped: list[str] = []
    samples = [
        *event_samples(session, evidence_dir, since, until, skipped),
        *case_photo_samples(session, evidence_dir, since, until, skipped),
        *annotation_samples(session, evidence_dir, since, until, skipped),
    ]
    return samples, skipped
