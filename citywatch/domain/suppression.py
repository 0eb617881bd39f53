"""Suppressions learnt from rejected alerts (issue #18): where operators keep rejecting the same
label for the same reason, that camera stops alerting for it.

Pure part (no database, no video): `cluster_rejections` groups rejections by camera, rule, label
and reason, links boxes at the same place (IoU through `supervision.box_iou_batch`, or one's centre
inside the other) and turns each group of at least `min_rejections` into a `Proposal` (the union
box, padded); `suppresses` says whether a suppression holds an event back; `check_decision` which
decisions an admin may take. DB part: `learn_from_rejection` (called in the review path),
`matching_suppression` (called on ingest, `citywatch.domain.intake`), `decide`, `suppressed_counts`.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import supervision as sv
from PIL import Image, UnidentifiedImageError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citywatch.config.feedback import FeedbackConfig
from citywatch.domain.tables import Event, Suppression, utcnow

#: Box: [x1, y1, x2, y2], normalised 0..1 to the frame.
Box = tuple[float, float, float, float]
STATUSES = ("proposed", "active", "revoked")
#: Decision → the statuses it may be taken from.
DECISIONS: dict[str, tuple[str, ...]] = {"activate": ("proposed", "revoked"), "revoke": ("proposed", "active")}
#: Who stores a suppressed event, and who decides when `feedback.auto_apply` is on.
SYSTEM_ACTOR = "system:feedback"
REASON_PREFIX = "suppression:"


@dataclass(frozen=True)
class Rejection:
    """One rejected alert as the clustering sees it."""

    event_id: int
    camera_id: str
    rule_id: str | None
    label: str
    reason: str
    box: Box
    score: float | None = None


@dataclass(frozen=True)
class Proposal:
    """A suppression the rejections call for: where (`region`), for what, and from which events."""

    camera_id: str
    rule_id: str | None
    label: str
    reason: str
    region: Box
    event_ids: tuple[int, ...]
    min_confidence: float | None = None


def normalise(box: Sequence[float], width: int, height: int) -> Box:
    """A pixel box as fractions of a `width` x `height` frame, clipped to 0..1."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return _clip(x1 / width), _clip(y1 / height), _clip(x2 / width), _clip(y2 / height)


def _clip(value: float) -> float:
    return min(max(value, 0.0), 1.0)


def reason_key(reason: str) -> str:
    """The reason a rejection is grouped by: the chosen reason without the operator's note (the
    console sends `<reason> — <note>`).

    Example:
        >>> reason_key("不是违规 — 送货车临停")
        '不是违规'
    """
    return reason.split(" — ", 1)[0].strip()


def centre_in(box: Sequence[float], region: Sequence[float]) -> bool:
    """Whether the centre of `box` lies inside `region` (edges included)."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return region[0] <= cx <= region[2] and region[1] <= cy <= region[3]


def _linked(boxes: Sequence[Box], min_iou: float) -> list[list[int]]:
    """Groups of indices of `boxes` connected by overlap (IoU ≥ `min_iou` or a centre inside the other)."""
    array = np.asarray(boxes, dtype=float)
    iou = sv.box_iou_batch(array, array)
    parent = list(range(len(boxes)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            if iou[i, j] >= min_iou or centre_in(boxes[i], boxes[j]) or centre_in(boxes[j], boxes[i]):
                parent[root(i)] = root(j)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(boxes)):
        groups[root(i)].append(i)
    return list(groups.values())


def union_box(boxes: Iterable[Sequence[float]], padding: float = 0.0) -> Box:
    """The smallest box holding all of `boxes`, grown by `padding` on every side, clipped to 0..1."""
    array = np.asarray(list(boxes), dtype=float)
    x1, y1 = array[:, 0].min() - padding, array[:, 1].min() - padding
    x2, y2 = array[:, 2].max() + padding, array[:, 3].max() + padding
    return max(float(x1), 0.0), max(float(y1), 0.0), min(float(x2), 1.0), min(float(y2), 1.0)


def cluster_rejections(
    rejections: Sequence[Rejection],
    min_rejections: int = 3,
    min_iou: float = 0.3,
    padding: float = 0.02,
    confidence_margin: float | None = None,
) -> list[Proposal]:
    """The suppressions `rejections` call for: per camera, rule, label and reason, each group of at
    least `min_rejections` boxes at the same place, as its padded union box; with
    `confidence_margin`, a threshold of the highest rejected score plus the margin.

    Example:
        >>> same = [Rejection(i, "cam", "r", "car", "not_violation", (0.5, 0.5, 0.6, 0.6)) for i in (1, 2, 3)]
        >>> [(p.event_ids, p.region) for p in cluster_rejections(same, padding=0.0)]
        [((1, 2, 3), (0.5, 0.5, 0.6, 0.6))]
        >>> cluster_rejections(same[:2])
        []
    """
    keyed: dict[tuple[str, str | None, str, str], list[Rejection]] = defaultdict(list)
    for rejection in rejections:
        keyed[(rejection.camera_id, rejection.rule_id, rejection.label, rejection.reason)].append(rejection)
    proposals: list[Proposal] = []
    for (camera_id, rule_id, label, reason), group in sorted(keyed.items(), key=lambda kv: str(kv[0])):
        for members in _linked([r.box for r in group], min_iou):
            if len(members) < min_rejections:
                continue
            chosen = [group[i] for i in members]
            threshold = None
            scores = [r.score for r in chosen if r.score is not None]
            if confidence_margin is not None and scores:
                threshold = min(round(max(scores) + confidence_margin, 4), 1.0)
            proposals.append(
                Proposal(
                    camera_id=camera_id,
                    rule_id=rule_id,
                    label=label,
                    reason=reason,
                    region=union_box((r.box for r in chosen), padding),
                    event_ids=tuple(sorted(r.event_id for r in chosen)),
                    min_confidence=threshold,
                )
            )
    return proposals


def suppresses(
    suppression: Suppression, camera_id: str, rule_id: str | None, label: str | None, box: Box, score: float | None
) -> bool:
    """Whether an active `suppression` holds back an event of this camera, rule and label whose
    normalised `box` has its centre in the region (and, with `min_confidence`, a lower score)."""
    if suppression.status != "active" or suppression.camera_id != camera_id or suppression.label != label:
        return False
    if suppression.rule_id is not None and suppression.rule_id != rule_id:
        return False
    if suppression.min_confidence is not None and score is not None and score >= suppression.min_confidence:
        return False
    return centre_in(box, suppression.region)


def check_decision(status: str, decision: str) -> str | None:
    """Why `decision` (activate, revoke) cannot be taken on a suppression in `status`; None when it can."""
    if decision not in DECISIONS:
        return f"unknown decision {decision!r}; decisions: {', '.join(DECISIONS)}"
    if status not in DECISIONS[decision]:
        return f"a {status} suppression cannot be {'activated' if decision == 'activate' else 'revoked'}"
    return None


# --- the database --------------------------------------------------------------------------------


def frame_size(evidence: Iterable[dict[str, Any]]) -> tuple[int, int] | None:
    """(width, height) of an event's evidence image, read from its header only; None without one."""
    for item in evidence:
        try:
            with Image.open(Path(item["path"])) as image:
                return image.size
        except (OSError, UnidentifiedImageError, KeyError, TypeError):
            continue
    return None


def _rejection(event: Event) -> Rejection | None:
    size = frame_size(event.evidence or [])
    if not event.box or size is None or not event.label or not event.review_reason:
        return None
    box = normalise(event.box, *size)
    reason = reason_key(event.review_reason)
    return Rejection(event.id, event.camera_id, event.rule_id, event.label, reason, box, event.score)


def learn_from_rejection(session: Session, event: Event, config: FeedbackConfig) -> Suppression | None:
    """After `event` was rejected: the suppression its and earlier rejections (same camera, rule,
    label and reason (`reason_key`), within `lookback_days`) call for, proposed (or active with `auto_apply`), or an
    open proposal there grown to cover them; None when they call for none. Rejections already behind
    an active or revoked suppression are not learnt from again."""
    if event.review_status != "rejected" or not event.label or not event.review_reason:
        return None
    since = event.occurred_at - timedelta(days=config.lookback_days)
    rows = session.scalars(
        select(Event)
        .where(
            Event.camera_id == event.camera_id,
            Event.rule_id == event.rule_id,
            Event.label == event.label,
            Event.review_status == "rejected",
            Event.occurred_at >= since,
        )
        .order_by(Event.occurred_at.desc())
        .limit(500)
    ).all()
    existing = session.scalars(
        select(Suppression).where(Suppression.camera_id == event.camera_id, Suppression.label == event.label)
    ).all()
    settled = {i for s in existing if s.status != "proposed" for i in s.event_ids}
    reason = reason_key(event.review_reason)
    rejections = [r for row in rows if row.id not in settled and (r := _rejection(row)) and r.reason == reason]
    args = (config.min_rejections, config.min_iou, config.padding, config.confidence_margin)
    proposal = next((p for p in cluster_rejections(rejections, *args) if event.id in p.event_ids), None)
    if proposal is None:
        return None
    return _record(session, proposal, existing, config.auto_apply)


def _record(session: Session, proposal: Proposal, existing: Sequence[Suppression], auto_apply: bool) -> Suppression:
    now = utcnow()
    for open_one in existing:  # an open proposal for the same place grows instead of a second one
        same = (open_one.status, open_one.rule_id, open_one.reason) == ("proposed", proposal.rule_id, proposal.reason)
        if same and set(open_one.event_ids) & set(proposal.event_ids):
            open_one.region = list(union_box([open_one.region, proposal.region]))
            open_one.event_ids = sorted(set(open_one.event_ids) | set(proposal.event_ids))
            open_one.min_confidence = proposal.min_confidence
            open_one.history = [*open_one.history, {"action": "grown", "by": SYSTEM_ACTOR, "at": now.isoformat()}]
            return open_one
    row = Suppression(
        id=str(uuid.uuid4()),
        camera_id=proposal.camera_id,
        rule_id=proposal.rule_id,
        label=proposal.label,
        region=list(proposal.region),
        min_confidence=proposal.min_confidence,
        reason=proposal.reason,
        status="active" if auto_apply else "proposed",
        event_ids=list(proposal.event_ids),
        history=[{"action": "proposed", "by": SYSTEM_ACTOR, "at": now.isoformat()}],
        created_at=now,
    )
    if auto_apply:
        row.decided_by, row.decided_at = SYSTEM_ACTOR, now
        row.history = [*row.history, {"action": "activate", "by": SYSTEM_ACTOR, "at": now.isoformat()}]
    session.add(row)
    session.flush()
    return row


def matching_suppression(session: Session, item: dict[str, Any]) -> Suppression | None:
    """The active suppression that holds back the event record `item` (as the sink hands it over:
    camera, rule, label, pixel box, score, evidence on disk); None when none does. One indexed query
    per event; the frame size is read from the evidence header only when a suppression could apply."""
    if not item.get("box") or not item.get("label"):
        return None
    candidates = session.scalars(
        select(Suppression).where(
            Suppression.camera_id == item["camera_id"],
            Suppression.status == "active",
            Suppression.label == item["label"],
        )
    ).all()
    if not candidates:
        return None
    size = frame_size(item.get("evidence") or [])
    if size is None:  # no image to place the box in: it alerts (nothing is held back unseen)
        return None
    box = normalise(item["box"], *size)
    rule_id, label, score = item.get("rule_id"), item["label"], item.get("score")
    return next((s for s in candidates if suppresses(s, item["camera_id"], rule_id, label, box, score)), None)


def decide(session: Session, suppression_id: str, decision: str, actor: str) -> Suppression:
    """Activate or revoke a suppression as `actor` (kept in `decided_by`, `decided_at` and `history`);
    `LookupError` when there is none, `ValueError` when the decision does not apply to its status."""
    row = session.get(Suppression, suppression_id, with_for_update=True)
    if row is None:
        raise LookupError(f"suppression {suppression_id} not found")
    problem = check_decision(row.status, decision)
    if problem is not None:
        raise ValueError(problem)
    now = utcnow()
    row.status = "active" if decision == "activate" else "revoked"
    row.decided_by, row.decided_at = actor, now
    row.history = [*row.history, {"action": decision, "by": actor, "at": now.isoformat()}]
    return row


def suppressed_counts(session: Session, ids: Sequence[str]) -> dict[str, int]:
    """How many events each suppression of `ids` held back."""
    reasons = [f"{REASON_PREFIX}{i}" for i in ids]
    if not reasons:
        return {}
    rows = session.execute(
        select(Event.review_reason, func.count(Event.id))
        .where(Event.review_status == "suppressed", Event.review_reason.in_(reasons))
        .group_by(Event.review_reason)
    )
    return {str(reason).removeprefix(REASON_PREFIX): count for reason, count in rows}


def list_suppressions(session: Session, status: str | None = None, limit: int = 200) -> list[Suppression]:
    """Suppressions newest first, optionally of one status."""
    query = select(Suppression).order_by(Suppression.created_at.desc(), Suppression.id)
    if status:
        query = query.where(Suppression.status == status)
    return list(session.scalars(query.limit(limit)))
