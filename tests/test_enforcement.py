"""The parking enforcement workflow over the real sink and API, on SQLite and PostgreSQL: a
vehicle's first violation that leaves within the grace after the phone notice is offered and
granted the waiver (首违免罚, audited); the same plate parked again the next day is a repeat,
refused the waiver and escalated; strict road sections never waive; the owner's phone is masked
for everyone but an operator's audited lookup, which the case's audit trail shows without the
number; the campaign report counts it all, with the same totals in JSON, CSV and Excel."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook

from citywatch.events import EventEnd
from tests.ledger_support import BACKENDS, Ledger, make_ledger

both_backends = pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
PLATE = {"text": "豫D12345", "color": "blue", "confidence": 0.96}
PHONE = "13812345678"
DAY = 86400.0


def _move(ledger: Ledger, case_id: int, **body: object) -> None:
    answer = ledger.client.post(f"/api/cases/{case_id}/transitions", json=body, headers=ledger.auth("operator"))
    assert answer.status_code == 200, answer.text


def close(ledger: Ledger, case_id: int) -> None:
    """Walk a case to closed, as a team and an operator would."""
    _move(ledger, case_id, to="registered")
    _move(ledger, case_id, to="dispatched", team="第一执法中队")
    _move(ledger, case_id, to="handled", note="车辆已驶离")
    _move(ledger, case_id, to="verified", note="现场核查无车")
    _move(ledger, case_id, to="closed", note="结案")


def step(ledger: Ledger, case_id: int, name: str, role: str = "operator", **extra: object):  # type: ignore[no-untyped-def]
    return ledger.client.post(
        f"/api/cases/{case_id}/enforcement", json={"step": name, **extra}, headers=ledger.auth(role)
    )


def state(ledger: Ledger, case_id: int) -> dict:
    answer = ledger.client.get(f"/api/cases/{case_id}/enforcement", headers=ledger.auth("viewer"))
    assert answer.status_code == 200, answer.text
    return answer.json()


def parked(ledger: Ledger, at: float, stay_s: float | None = 30.0) -> dict:
    """A plated vehicle's event at wall `at`; it leaves `stay_s` stream seconds after the trigger."""
    event = ledger.event(at=at, plate=PLATE)
    if stay_s is not None:
        ledger.sink.end(EventEnd(event["uid"], "campus-road", 20.5 + stay_s, 20.0 + stay_s))
    return event


@both_backends
def test_first_violation_waiver_then_a_repeat_is_escalated(ledger: Ledger) -> None:
    first = parked(ledger, time.time() - 5, stay_s=None)  # triggered 5 s ago, still there
    case_id = first["case_id"]
    before = state(ledger, case_id)
    assert before["plate"] == "豫D12345" and before["first_violation"] and not before["waiver_eligible"]
    assert before["next_step"] == "phone"
    assert step(ledger, case_id, "waiver").status_code == 409  # no notice yet
    assert step(ledger, case_id, "phone", role="viewer").status_code == 403
    assert step(ledger, case_id, "phone", note="已电话通知车主移车").status_code == 201
    # the vehicle leaves (its stay ends) 60 s after the trigger: within the grace after the notice
    ledger.sink.end(EventEnd(first["uid"], "campus-road", 80.5, 80.0))
    offered = state(ledger, case_id)
    assert offered["left_within_grace"] and offered["waiver_eligible"] and offered["next_step"] == "waiver"
    granted = step(ledger, case_id, "waiver")
    assert granted.status_code == 201, granted.text
    assert state(ledger, case_id)["waived"] and step(ledger, case_id, "waiver").status_code == 409
    case = ledger.client.get(f"/api/cases/{case_id}", headers=ledger.auth("viewer")).json()
    steps = [a["data"].get("step") for a in case["actions"] if a["action"] == "enforcement"]
    assert steps == ["phone", "waiver"]
    close(ledger, case_id)

    second = parked(ledger, time.time() + DAY, stay_s=None)  # the next day
    assert second["case_id"] != case_id
    repeat = state(ledger, second["case_id"])
    assert repeat["prior_violations"] == 1 and not repeat["first_violation"]
    assert step(ledger, second["case_id"], "notice").status_code == 201
    ledger.sink.end(EventEnd(second["uid"], "campus-road", 40.5, 40.0))
    refused = step(ledger, second["case_id"], "waiver")
    assert refused.status_code == 409 and "earlier violation" in refused.json()["detail"]
    assert step(ledger, second["case_id"], "tow").status_code == 422  # a tow says what was towed
    assert step(ledger, second["case_id"], "tow", vehicle_kind="car").status_code == 201
    vehicles = ledger.client.get("/api/vehicles", headers=ledger.auth("viewer")).json()["items"]
    assert [(v["plate"], v["repeat"]) for v in vehicles] == [("豫D12345", True)]

    start = datetime.now(UTC) - timedelta(days=3)
    span = {"start": start.isoformat(), "end": (start + timedelta(days=4)).isoformat()}
    report = ledger.client.get("/api/reports/campaign", params=span, headers=ledger.auth("viewer")).json()
    counts = report["counts"]
    assert counts["cases"] == 2 and counts["phone_notices"] == 1 and counts["notices"] == 1
    assert counts["waivers"] == 1 and counts["towed_car"] == 1 and counts["towed"] == 1
    assert counts["repeat_offenders"] == 1 and counts["plates_read"] == 1
    assert report["response_min"]["cases"] == 2

    as_csv = ledger.client.get("/api/reports/campaign", params={**span, "format": "csv"}, headers=ledger.auth("viewer"))
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    rows = {row[0]: int(row[2]) for row in list(csv.reader(io.StringIO(as_csv.text.lstrip("\ufeff"))))[1:]}
    assert rows == counts
    as_xlsx = ledger.client.get(
        "/api/reports/campaign", params={**span, "format": "xlsx"}, headers=ledger.auth("viewer")
    )
    sheet = load_workbook(io.BytesIO(as_xlsx.content)).active
    cells = {row[0]: row[2] for row in sheet.iter_rows(min_row=3, values_only=True) if row[0] in counts}
    assert cells == counts  # the workbook's totals are the API's


@both_backends
def test_owner_phone_is_masked_except_for_an_audited_lookup(ledger: Ledger) -> None:
    event = parked(ledger, time.time())
    viewer, operator = ledger.auth("viewer"), ledger.auth("operator")
    registered = ledger.client.put(
        "/api/owners/豫D12345", json={"name": "张三", "phone": PHONE}, headers=ledger.auth("admin")
    )
    assert registered.status_code == 200 and registered.json()["phone"] == "138****5678"
    assert ledger.client.put("/api/owners/豫D12345", json={"phone": PHONE}, headers=operator).status_code == 403
    for answer in (
        ledger.client.get("/api/owners/豫D12345", headers=viewer),
        ledger.client.get(f"/api/cases/{event['case_id']}/enforcement", headers=viewer),
        ledger.client.get(f"/api/cases/{event['case_id']}", headers=viewer),
        ledger.client.get("/api/vehicles/豫D12345", headers=viewer),
    ):
        assert answer.status_code == 200 and PHONE not in answer.text and "12345678" not in answer.text
    assert ledger.client.post(f"/api/cases/{event['case_id']}/owner-lookup", headers=viewer).status_code == 403
    looked = ledger.client.post(f"/api/cases/{event['case_id']}/owner-lookup", headers=operator)
    assert looked.status_code == 200 and looked.json()["phone"] == PHONE
    case = ledger.client.get(f"/api/cases/{event['case_id']}", headers=viewer)
    lookups = [a for a in case.json()["actions"] if a["action"] == "owner_lookup"]
    assert len(lookups) == 1 and lookups[0]["actor"] == "operator-1" and lookups[0]["data"]["plate"] == "豫D12345"
    assert PHONE not in case.text  # the audit line never holds the number


def test_a_strict_road_section_never_waives(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ledger = make_ledger(
        tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", extra={"enforcement": {"strict_zones": ["campus-road/kerb"]}}
    )
    try:
        event = parked(ledger, time.time() - 120, stay_s=None)
        assert step(ledger, event["case_id"], "card").status_code == 201
        ledger.sink.end(EventEnd(event["uid"], "campus-road", 40.5, 40.0))
        strict = state(ledger, event["case_id"])
        assert strict["first_violation"] and strict["strict_section"] and not strict["waiver_eligible"]
        refused = step(ledger, event["case_id"], "waiver")
        assert refused.status_code == 409 and "严管路段" in refused.json()["detail"]
    finally:
        ledger.sink.close()
        ledger.database.dispose()


def test_a_vehicle_that_leaves_after_the_grace_gets_no_waiver(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ledger = make_ledger(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", extra={"enforcement": {"grace_min": 1}})
    try:
        event = parked(ledger, time.time() - 5, stay_s=None)
        assert step(ledger, event["case_id"], "phone").status_code == 201
        ledger.sink.end(EventEnd(event["uid"], "campus-road", 40.5, 20.0, "source_ended"))
        cut = state(ledger, event["case_id"])
        assert cut["left_at"] is None and not cut["waiver_eligible"]  # the footage ended, it did not leave
        ledger.sink.end(EventEnd(event["uid"], "campus-road", 20.5 + 300, 300.0))  # left 5 min later
        late = state(ledger, event["case_id"])
        assert late["first_violation"] and not late["left_within_grace"] and not late["waiver_eligible"]
        refused = step(ledger, event["case_id"], "waiver")
        assert refused.status_code == 409 and "did not leave within 1 min" in refused.json()["detail"]
    finally:
        ledger.sink.close()
        ledger.database.dispose()


def test_exempt_plates_are_shown_and_never_penalised(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ledger = make_ledger(
        tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", extra={"enforcement": {"exempt_plates": [PLATE["text"]]}}
    )
    try:
        listed = parked(ledger, time.time() - 120, stay_s=None)
        exempt = state(ledger, listed["case_id"])
        assert exempt["exempt"] == "listed" and exempt["next_step"] is None and not exempt["waiver_eligible"]
        for name in ("card", "phone", "notice"):
            refused = step(ledger, listed["case_id"], name)
            assert refused.status_code == 409 and "豁免车辆" in refused.json()["detail"], name
        close(ledger, listed["case_id"])  # the place's next stay opens a case of its own
        police = ledger.event(at=time.time() - 60, plate={"text": "豫A1234警", "color": "white", "confidence": 0.9})
        assert state(ledger, police["case_id"])["exempt"] == "special"
        assert step(ledger, police["case_id"], "tow", vehicle_kind="car").status_code == 409
    finally:
        ledger.sink.close()
        ledger.database.dispose()


def test_a_plate_not_exempt_is_enforced(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ledger = make_ledger(
        tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", extra={"enforcement": {"exempt_suffixes": []}}
    )
    try:
        police = ledger.event(at=time.time() - 60, plate={"text": "豫A1234警", "color": "white", "confidence": 0.9})
        assert state(ledger, police["case_id"])["exempt"] is None
        assert step(ledger, police["case_id"], "phone").status_code == 201
    finally:
        ledger.sink.close()
        ledger.database.dispose()


def test_the_camera_records_the_waiver_when_the_vehicle_leaves_in_time(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ledger = make_ledger(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", extra={"enforcement": {"auto_waiver": True}})
    try:
        first = parked(ledger, time.time() - 5, stay_s=None)
        assert step(ledger, first["case_id"], "phone").status_code == 201
        ledger.sink.end(EventEnd(first["uid"], "campus-road", 80.5, 80.0))  # left 60 s later: within the grace
        waived = state(ledger, first["case_id"])
        assert waived["waived"] and waived["next_step"] is None
        case = ledger.client.get(f"/api/cases/{first['case_id']}", headers=ledger.auth("viewer")).json()
        actions = [(a["data"].get("step"), a["actor"]) for a in case["actions"] if a["action"] == "enforcement"]
        assert actions == [("phone", "operator-1"), ("waiver", "system:camera")]
        close(ledger, first["case_id"])
        # the same plate again: a repeat, so leaving in time earns nothing
        second = parked(ledger, time.time() - 3, stay_s=None)
        assert step(ledger, second["case_id"], "phone").status_code == 201
        ledger.sink.end(EventEnd(second["uid"], "campus-road", 80.5, 80.0))
        repeat = state(ledger, second["case_id"])
        assert not repeat["waived"] and repeat["prior_violations"] == 1
        close(ledger, second["case_id"])
    finally:
        ledger.sink.close()
        ledger.database.dispose()
