"""Where a stored event meets the operators' feedback: `store_or_suppress` is what the event sink
calls to store a record. An event inside an active suppression (`citywatch.domain.suppression`) is
kept with review status `suppressed` (no case, no queue item, nothing published), so nothing is
lost and the admin can see what was held back; any other goes to `events.store_event` as before.
`end_stay` records a stay's end (with the plate read after the trigger, when the event had none)
and, when the vehicle left within the grace after its notice, the first-violation waiver it has
earned (`enforcement.waive_on_departure`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from citywatch.config import EnforcementConfig
from citywatch.domain import enforcement, ledger, vehicles
from citywatch.domain.events import EventItem, end_event, event_row, store_event
from citywatch.domain.payloads import event_row_payload, jsonable
from citywatch.domain.suppression import REASON_PREFIX, SYSTEM_ACTOR, matching_suppression
from citywatch.domain.tables import Event


def store_or_suppress(session: Session, item: EventItem, policy: ledger.CasePolicy) -> dict[str, Any] | None:
    """Store the record `item`: held back by an active suppression (its payload then has
    `review_status` `suppressed` and no case; nothing is queued for publishing), else as
    `store_event` does. None when an event with this uid is already stored."""
    suppression = matching_suppression(session, item)
    if suppression is None:
        return store_event(session, item, policy)
    if session.scalars(select(Event.id).where(Event.uid == item["uid"])).first() is not None:
        return None
    row = event_row(item)
    row.review_status, row.reviewed_by = "suppressed", SYSTEM_ACTOR
    row.review_reason = f"{REASON_PREFIX}{suppression.id}"
    session.add(row)
    session.flush()
    return {**jsonable(event_row_payload(row)), "case_status": None}


def end_stay(session: Session, item: dict[str, Any], terms: EnforcementConfig | None) -> None:
    """Record the end of the stay behind event `item["uid"]`; its `plate` (agreed after the
    trigger) goes on an event stored without one, as a sighting of that vehicle; a vehicle that
    left (reason `left`) gets the waiver it earned when `terms` say so (`auto_waiver`)."""
    reason = item.get("reason", "left")
    end_event(session, item["uid"], item["ended_s"], item["duration_s"], reason)
    late_plate(session, item["uid"], item.get("plate"))  # absent from ends spooled before late plates
    if reason == "left" and terms is not None and terms.auto_waiver:
        enforcement.waive_on_departure(session, item["uid"], terms)


def late_plate(session: Session, uid: str, plate: dict[str, Any] | None) -> bool:
    """Put `plate` on event `uid` when it was stored without one (an agreed plate read after the
    trigger); a plate the event already carries is kept (operators may have acted on it). Whether
    the event changed."""
    if not plate or not plate.get("text"):
        return False
    row = session.scalars(select(Event).where(Event.uid == uid)).first()
    if row is None or row.plate_text:
        return False
    row.plate, row.plate_text = plate, plate["text"]
    vehicles.note_sighting(session, row.plate_text, plate.get("color"), row.occurred_at)
    return True
