"""Vehicles by plate: each stored event that carries a plate is a sighting of its vehicle.

`note_sighting` keeps the `vehicles` row of a plate (first and last seen, how many events) as each
event is stored, in the same transaction; `vehicle_history` and `repeat_offenders` read a
vehicle's events and cases and the plates seen more than once within a look-back window (the
first-violation waiver's 首违 window counts on these). Nothing here commits: the caller's session does.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citywatch.domain.tables import Case, Event, Vehicle


def note_sighting(session: Session, plate: str, color: str | None, at: datetime) -> Vehicle:
    """Count one more event of `plate` at `at` (the vehicle's row is made on its first)."""
    vehicle = session.get(Vehicle, plate, with_for_update=True)
    if vehicle is None:
        vehicle = Vehicle(plate=plate, color=color, first_seen_at=at, last_seen_at=at, event_count=0)
        session.add(vehicle)
    vehicle.event_count = (vehicle.event_count or 0) + 1
    vehicle.first_seen_at = min(vehicle.first_seen_at, at)
    vehicle.last_seen_at = max(vehicle.last_seen_at, at)
    vehicle.color = color or vehicle.color
    session.flush()
    return vehicle


def vehicle_payload(vehicle: Vehicle, recent: int) -> dict[str, Any]:
    """A vehicle as the API and the console show it; `recent`: its events within the window."""
    return {
        "plate": vehicle.plate,
        "color": vehicle.color,
        "first_seen_at": vehicle.first_seen_at,
        "last_seen_at": vehicle.last_seen_at,
        "event_count": vehicle.event_count,
        "recent_count": recent,
        "repeat": recent > 1,
    }


def repeat_offenders(
    session: Session, *, now: datetime, within_days: float, min_events: int = 2, limit: int = 200
) -> list[dict[str, Any]]:
    """Plates with at least `min_events` events within the last `within_days`, most first."""
    since = now - timedelta(days=within_days)
    recent = func.count(Event.id).label("recent")
    rows = session.execute(
        select(Vehicle, recent)
        .join(Event, Event.plate_text == Vehicle.plate)
        .where(Event.occurred_at >= since, Event.review_status != "rejected")
        .group_by(Vehicle.plate)
        .having(recent >= min_events)
        .order_by(recent.desc(), Vehicle.last_seen_at.desc())
        .limit(limit)
    ).all()
    return [vehicle_payload(vehicle, count) for vehicle, count in rows]


def vehicle_history(session: Session, plate: str, *, now: datetime, within_days: float) -> dict[str, Any] | None:
    """The vehicle of `plate` with every event (newest first, rejected ones included and marked)
    and the cases they belong to; None for a plate never seen."""
    vehicle = session.get(Vehicle, plate)
    if vehicle is None:
        return None
    events = session.scalars(
        select(Event).where(Event.plate_text == plate).order_by(Event.occurred_at.desc()).limit(500)
    ).all()
    since = now - timedelta(days=within_days)
    recent = sum(1 for e in events if e.occurred_at >= since and e.review_status != "rejected")
    case_ids = sorted({e.case_id for e in events if e.case_id is not None})
    cases = session.scalars(select(Case).where(Case.id.in_(case_ids)).order_by(Case.id)).all() if case_ids else []
    return {
        **vehicle_payload(vehicle, recent),
        "events": [
            {
                "id": e.id,
                "type": e.type,
                "camera_id": e.camera_id,
                "zone_id": e.zone_id,
                "occurred_at": e.occurred_at,
                "review_status": e.review_status,
                "case_id": e.case_id,
                "plate": e.plate,
            }
            for e in events
        ],
        "cases": [{"id": c.id, "type": c.type, "status": c.status, "created_at": c.created_at} for c in cases],
    }
