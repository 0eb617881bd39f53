"""Where a stored event meets the operators' feedback: `store_or_suppress` is what the event sink
calls to store a record. An event inside an active suppression (`citywatch.domain.suppression`) is
kept with review status `suppressed` (no case, no queue item, nothing published), so nothing is
lost and the admin can see what was held back; any other goes to `events.store_event` as before.
`end_stay` records a stay's end and, when the vehicle left within the grace after its notice,
the first-violation waiver it has earned (`enforcement.waive_on_departure`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from citywatch.config import EnforcementConfig
from citywatch.domain import enforcement, ledger
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
    """Record the end of the stay behind event `item["uid"]`; a vehicle that left (reason `left`)
    gets the waiver it earned when `terms` say so (`auto_waiver`)."""
    reason = item.get("reason", "left")
    end_event(session, item["uid"], item["ended_s"], item["duration_s"], reason)
    if reason == "left" and terms is not None and terms.auto_waiver:
        enforcement.waive_on_departure(session, item["uid"], terms)
