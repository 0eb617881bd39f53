"""Where a triggered rule becomes a stored event: the row, its case, and the stay's end.

The event sink (`citywatch.sink`) hands over each record as a plain dict (`EventItem`, the form
the outage spool keeps) after its evidence files are on disk; `store_event` writes the row and
attaches it to the open case of its camera, zone and type (or opens one), idempotently by the
event's uid; `set_clip` points it at its MP4 clip once that is written, seconds later. Nothing
here commits: the caller's session does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from citywatch.domain import ledger, vehicles
from citywatch.domain.payloads import event_row_payload, jsonable
from citywatch.domain.tables import Event

#: A record as the sink hands it over (and the spool keeps it): uid, type, camera_id, rule_id,
#: zone_id, label, track_id, first_seen_s, triggered_s, score, box, evidence ([{kind, path}]),
#: occurred_wall_s (epoch seconds), plate (`{"text", "color", "confidence"}` or None).
EventItem = dict[str, Any]


def event_row(item: EventItem) -> Event:
    """The (unsaved) event row of a record."""
    evidence = item["evidence"]
    return Event(
        uid=item["uid"],
        type=item["type"],
        camera_id=item["camera_id"],
        rule_id=item["rule_id"],
        zone_id=item["zone_id"],
        label=item["label"],
        track_id=item["track_id"],
        first_seen_s=item["first_seen_s"],
        triggered_s=item["triggered_s"],
        score=item["score"],
        box=item["box"],
        snapshot_path=next((e["path"] for e in evidence if e["kind"] == "trigger"), None),
        evidence=evidence,
        review_status="pending",
        occurred_at=datetime.fromtimestamp(item["occurred_wall_s"], UTC),
        plate=item.get("plate"),  # absent from records spooled before plates were read
        plate_text=(item.get("plate") or {}).get("text"),
    )


def store_event(session: Session, item: EventItem, policy: ledger.CasePolicy) -> dict[str, Any] | None:
    """Insert the event of `item` and attach it to its case; its JSON-ready payload (with
    `case_status`), or None when an event with this uid is already stored (a replay after a commit
    whose reply was lost). The payload is also queued on the session's outbox for publishing."""
    if session.scalars(select(Event.id).where(Event.uid == item["uid"])).first() is not None:
        return None
    row = event_row(item)
    session.add(row)
    session.flush()
    case, _created = ledger.attach_event(session, row, policy)
    if row.plate_text:
        vehicles.note_sighting(session, row.plate_text, (row.plate or {}).get("color"), row.occurred_at)
    payload = {**jsonable(event_row_payload(row)), "case_status": case.status}
    ledger.outbox(session).insert(0, ("event", payload))
    return payload


def end_event(session: Session, uid: str, ended_s: float, duration_s: float, reason: str = "left") -> None:
    """Record when and why the stay behind event `uid` ended (nothing when it is not stored)."""
    row = session.scalars(select(Event).where(Event.uid == uid)).first()
    if row is not None:
        row.ended_s, row.duration_s, row.end_reason = ended_s, duration_s, reason


def set_clip(session: Session, uid: str, clip: str) -> bool:
    """Point event `uid` at its clip (a path relative to the recordings directory), once the file is
    durable; False when no such event is stored."""
    row = session.scalars(select(Event).where(Event.uid == uid)).first()
    if row is None:
        return False
    row.clip = clip
    return True
