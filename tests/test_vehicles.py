"""Vehicles by plate over the real sink and API, on SQLite and PostgreSQL: an event that carries a
plate is a sighting of its vehicle (first and last seen, count), the same plate on two days makes a
repeat offender within the window but not outside it, a rejected event does not count, an event
without a plate makes no vehicle, and a vehicle's history lists its events and cases."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from citywatch.domain.tables import Event, Vehicle
from tests.ledger_support import BACKENDS, Ledger

both_backends = pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
PLATE = {"text": "豫D12345", "color": "blue", "confidence": 0.96}
DAY = 86400.0


@both_backends
def test_a_plate_seen_on_two_days_is_a_repeat_offender(ledger: Ledger) -> None:
    now = time.time()
    first = ledger.event(at=now - 2 * DAY, plate=PLATE)
    assert first["plate"] == PLATE
    ledger.event(at=now - 1 * DAY, plate={**PLATE, "confidence": 0.91})
    ledger.event(at=now - 1 * DAY, plate={"text": "京A8M8B8", "color": "blue", "confidence": 0.9})
    ledger.event(at=now)  # no plate read: no vehicle
    with ledger.database.read_session() as session:
        vehicles = {v.plate: v for v in session.scalars(select(Vehicle))}
        assert session.scalars(select(Event.plate_text).order_by(Event.id)).all() == [
            "豫D12345", "豫D12345", "京A8M8B8", None,
        ]  # fmt: skip
    assert set(vehicles) == {"豫D12345", "京A8M8B8"}
    assert vehicles["豫D12345"].event_count == 2 and vehicles["豫D12345"].color == "blue"
    assert vehicles["豫D12345"].first_seen_at < vehicles["豫D12345"].last_seen_at

    viewer = ledger.auth("viewer")
    listed = ledger.client.get("/api/vehicles", headers=viewer).json()
    assert [(v["plate"], v["recent_count"], v["repeat"]) for v in listed["items"]] == [("豫D12345", 2, True)]
    short = ledger.client.get("/api/vehicles", params={"within_days": 1.5}, headers=viewer).json()
    assert short["items"] == []  # the first sighting is outside a 1.5-day window
    every = ledger.client.get("/api/vehicles", params={"min_events": 1}, headers=viewer).json()
    assert {v["plate"] for v in every["items"]} == {"豫D12345", "京A8M8B8"}

    history = ledger.client.get("/api/vehicles/豫D12345", headers=viewer).json()
    assert history["event_count"] == 2 and history["repeat"] is True
    assert [e["plate"]["confidence"] for e in history["events"]] == [0.91, 0.96]  # newest first
    assert {c["id"] for c in history["cases"]} == {e["case_id"] for e in history["events"]}
    assert ledger.client.get("/api/vehicles/京B00000", headers=viewer).status_code == 404
    assert ledger.client.get("/api/vehicles").status_code == 401
    event = ledger.client.get(f"/api/events/{first['id']}", headers=viewer).json()
    assert event["plate"] == PLATE


@both_backends
def test_a_rejected_sighting_does_not_make_a_repeat(ledger: Ledger) -> None:
    now = time.time()
    ledger.event(at=now - DAY, plate=PLATE)
    second = ledger.event(at=now, plate=PLATE)
    answer = ledger.client.post(
        f"/api/events/{second['id']}/review",
        json={"action": "reject", "reason": "误识别"},
        headers=ledger.auth("operator"),
    )
    assert answer.status_code == 200, answer.text
    assert ledger.client.get("/api/vehicles", headers=ledger.auth("viewer")).json()["items"] == []
    history = ledger.client.get("/api/vehicles/豫D12345", headers=ledger.auth("viewer")).json()
    assert history["recent_count"] == 1 and history["repeat"] is False
    assert [e["review_status"] for e in history["events"]] == ["rejected", "pending"]
