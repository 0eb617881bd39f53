"""The case ledger over HTTP, the same suite on SQLite and on PostgreSQL: the whole workflow from
event to verified close, hotline intake, dedup, filters and pagination, and the error contract
(401, 403, 404, 409 with the allowed transitions, 422 naming the field)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from api.views import case_out, event_out
from citywatch.domain import ledger as ledger_module
from citywatch.domain.payloads import case_payload
from citywatch.domain.tables import Case, Event
from citywatch.domain.workflow import TRANSITIONS, check_transition, is_overdue
from tests.ledger_support import BACKENDS, Ledger, make_ledger

both_backends = pytest.mark.parametrize("database_url", BACKENDS, indirect=True)


def _hotline(ledger: Ledger, ticket: str, **fields: object) -> dict:
    body = {
        "source": "hotline",
        "ticket": ticket,
        "type": "illegal_parking",
        "description": "van on the kerb",
        "location": "光明路 88 号",
        "district": "新华区",
        "street": "光明路街道",
        **fields,
    }
    response = ledger.client.post("/api/cases", json=body, headers=ledger.auth("operator"))
    assert response.status_code == 201, response.text
    return response.json()


def _move(ledger: Ledger, case_id: int, role: str = "operator", **body: object):  # type: ignore[no-untyped-def]
    return ledger.client.post(f"/api/cases/{case_id}/transitions", json=body, headers=ledger.auth(role))


@both_backends
def test_event_to_verified_close(ledger: Ledger) -> None:
    event = ledger.event()
    assert event["case_id"] and event["case_status"] == "new"
    client, viewer = ledger.client, ledger.auth("viewer")
    listed = client.get("/api/events", headers=viewer).json()
    assert listed["total"] == 1 and listed["items"][0]["case_id"] == event["case_id"]
    assert client.get(f"/api/events/{event['id']}/snapshot.jpg", headers=viewer).status_code == 200

    review = client.post(
        f"/api/events/{event['id']}/review", json={"action": "confirm"}, headers=ledger.auth("operator")
    )
    assert review.status_code == 200, review.text
    case_id = review.json()["case"]["id"]
    assert review.json()["case"]["status"] == "registered" and review.json()["event"]["review_status"] == "confirmed"
    again = client.post(
        f"/api/events/{event['id']}/review", json={"action": "confirm"}, headers=ledger.auth("operator")
    )
    assert again.status_code == 409

    missing_team = _move(ledger, case_id, to="dispatched")
    assert missing_team.status_code == 422 and missing_team.json()["detail"][0]["loc"] == ["body", "team"]
    skip = _move(ledger, case_id, to="closed")
    assert skip.status_code == 409
    assert (
        skip.json()["allowed"] == ["dispatched", "rejected"]
        and "registered cannot go to closed" in skip.json()["detail"]
    )

    deadline = datetime.now(UTC) + timedelta(hours=4)
    moved = _move(ledger, case_id, to="dispatched", team="第一执法中队", deadline=deadline.isoformat())
    assert moved.status_code == 200, moved.text
    case = moved.json()["case"]
    assert case["status"] == "dispatched" and case["team"] == "第一执法中队" and not case["overdue"]
    assert abs(datetime.fromisoformat(case["deadline"]) - deadline) < timedelta(seconds=1)
    assert _move(ledger, case_id, to="handled").json()["detail"][0]["loc"] == ["body", "note"]
    handled = _move(ledger, case_id, to="handled", note="车辆已驶离", attachments=["photos/after.jpg"])
    assert handled.json()["action"]["attachments"] == ["photos/after.jpg"]
    assert handled.json()["case"]["disposal_note"] == "车辆已驶离"
    failed = _move(ledger, case_id, to="dispatched", team="第一执法中队", note="复查仍有车辆")
    assert failed.json()["case"]["status"] == "dispatched"
    assert failed.json()["case"]["disposal_note"] is None, "a new round shows no stale handling note"
    _move(ledger, case_id, to="handled", note="已拖离")
    assert _move(ledger, case_id, to="verified", note="现场核查无车").json()["case"]["status"] == "verified"
    closed = _move(ledger, case_id, to="closed", note="结案")
    assert closed.json()["case"]["status"] == "closed"
    assert closed.json()["case"]["allowed_transitions"] == ["dispatched"]  # reopen only
    assert _move(ledger, case_id, to="handled", note="x").status_code == 409

    detail = client.get(f"/api/cases/{case_id}", headers=viewer).json()
    steps = [(a["action"], a["from_status"], a["to_status"], a["actor"]) for a in detail["actions"]]
    assert steps == [
        ("open", None, "new", "system"),
        ("transition", "new", "registered", "operator-1"),
        ("transition", "registered", "dispatched", "operator-1"),
        ("transition", "dispatched", "handled", "operator-1"),
        ("transition", "handled", "dispatched", "operator-1"),
        ("transition", "dispatched", "handled", "operator-1"),
        ("transition", "handled", "verified", "operator-1"),
        ("transition", "verified", "closed", "operator-1"),
    ]
    assert [e["id"] for e in detail["events"]] == [event["id"]]
    assert detail["district"] == "新华区" and detail["street"] == "光明路街道"

    stats = client.get("/api/stats", headers=viewer).json()
    assert stats["by_status"] == {"closed": 1} and stats["by_district"] == {"新华区": 1}
    assert stats["on_time"] == {"closed": 1, "on_time": 1, "rate": 1.0}
    local_day = datetime.now(UTC).astimezone().date()
    assert (
        stats["by_day"][0]["count"] == 1
        and abs((datetime.fromisoformat(stats["by_day"][0]["day"]).date() - local_day).days) <= 1
    )
    exported = client.get("/api/cases/export.csv", headers=viewer)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert [(r["id"], r["status"], r["team"]) for r in rows] == [(str(case_id), "closed", "第一执法中队")]
    reopened = _move(ledger, case_id, to="dispatched", team="第二执法中队", note="市民再次投诉").json()["case"]
    assert reopened["status"] == "dispatched" and reopened["team"] == "第二执法中队"
    assert reopened["closed_at"] is None and reopened["allowed_transitions"] == ["handled"]
    assert reopened["disposal_note"] is None  # the last round's note stays in the audit trail only
    assert any(a.get("note") == "已拖离" for a in client.get(f"/api/cases/{case_id}", headers=viewer).json()["actions"])


@both_backends
def test_events_attach_to_the_open_case_and_reject_closes_it(ledger: Ledger) -> None:
    first, second = ledger.event(), ledger.event()
    other_zone = ledger.event(zone="kerb-2")
    assert first["case_id"] == second["case_id"] != other_zone["case_id"]
    case = ledger.client.get(f"/api/cases/{first['case_id']}", headers=ledger.auth("viewer")).json()
    assert case["event_count"] == 2 and case["status"] == "new"
    operator = ledger.auth("operator")
    no_reason = ledger.client.post(f"/api/events/{first['id']}/review", json={"action": "reject"}, headers=operator)
    assert no_reason.status_code == 422 and no_reason.json()["detail"][0]["loc"] == ["body", "reason"]
    for event in (first, second):
        response = ledger.client.post(
            f"/api/events/{event['id']}/review", json={"action": "reject", "reason": "行人遮挡误报"}, headers=operator
        )
        assert response.status_code == 200
    case = ledger.client.get(f"/api/cases/{first['case_id']}", headers=ledger.auth("viewer")).json()
    assert case["status"] == "rejected" and case["reject_reason"] == "行人遮挡误报"
    third = ledger.event()
    assert third["case_id"] not in (first["case_id"], other_zone["case_id"])  # a rejected case is closed
    rejected = ledger.client.get("/api/events", params={"review_status": "rejected"}, headers=ledger.auth("viewer"))
    assert rejected.json()["total"] == 2


@both_backends
def test_hotline_intake_and_payload_errors(ledger: Ledger) -> None:
    case = _hotline(ledger, "12345-0001", camera_id="campus-road")
    assert case["status"] == "registered" and case["source"] == "hotline" and case["hotline_ticket"] == "12345-0001"
    assert [a["to_status"] for a in case["actions"]] == ["new", "registered"]
    operator = ledger.auth("operator")
    duplicate = ledger.client.post(
        "/api/cases",
        headers=operator,
        json={"source": "hotline", "ticket": "12345-0001", "type": "litter", "description": "d", "location": "l"},
    )
    assert duplicate.status_code == 409
    missing = ledger.client.post("/api/cases", headers=operator, json={"source": "hotline", "type": "litter"})
    assert missing.status_code == 422
    assert {tuple(e["loc"]) for e in missing.json()["detail"]} >= {("body", "ticket"), ("body", "description")}
    wrong_source = ledger.client.post(
        "/api/cases",
        headers=operator,
        json={"source": "camera", "ticket": "t", "type": "litter", "description": "d", "location": "l"},
    )
    assert wrong_source.status_code == 422 and wrong_source.json()["detail"][0]["loc"] == ["body", "source"]
    bad_camera = ledger.client.post(
        "/api/cases",
        headers=operator,
        json={
            "source": "hotline",
            "ticket": "t2",
            "type": "litter",
            "description": "d",
            "location": "l",
            "camera_id": "nope",
        },
    )
    assert bad_camera.status_code == 422 and bad_camera.json()["detail"][0]["loc"] == ["body", "camera_id"]
    bad_to = _move(ledger, case["id"], to="teleported")
    assert bad_to.status_code == 422 and bad_to.json()["detail"][0]["loc"] == ["body", "to"]


@both_backends
def test_auth_and_unknown_ids(ledger: Ledger) -> None:
    client = ledger.client
    assert client.get("/api/cases").status_code == 401
    assert client.get("/api/events").status_code == 401
    assert client.get("/api/cases", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/healthz").status_code == 200
    body = {"source": "hotline", "ticket": "t", "type": "litter", "description": "d", "location": "l"}
    assert client.post("/api/cases", json=body).status_code == 401
    assert client.post("/api/cases", json=body, headers=ledger.auth("viewer")).status_code == 403
    case = _hotline(ledger, "t-auth")
    assert _move(ledger, case["id"], role="viewer", to="dispatched", team="a").status_code == 403
    assert client.post(f"/api/cases/{case['id']}/transitions", json={"to": "rejected"}).status_code == 401
    assert _move(ledger, case["id"], role="admin", to="dispatched", team="a").status_code == 200
    viewer, operator = ledger.auth("viewer"), ledger.auth("operator")
    assert client.get("/api/cases/999999", headers=viewer).status_code == 404
    assert _move(ledger, 999999, to="registered").status_code == 404
    assert client.post("/api/events/999999/review", json={"action": "confirm"}, headers=operator).status_code == 404
    assert client.get("/api/events/999999", headers=viewer).status_code == 404
    assert client.get("/api/cases/abc", headers=viewer).status_code == 422


@both_backends
def test_filters_pagination_and_overdue(ledger: Ledger) -> None:
    ids = [
        _hotline(ledger, f"T-{i:03d}", district="新华区" if i % 2 else "长安区", street=f"街道{i % 3}")["id"]
        for i in range(12)
    ]
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    for case_id in ids[:3]:
        assert _move(ledger, case_id, to="dispatched", team="二中队", deadline=past).status_code == 200
    viewer = ledger.auth("viewer")
    pages, offset = [], 0
    while True:
        page = ledger.client.get("/api/cases", params={"limit": 5, "offset": offset}, headers=viewer).json()
        pages.extend(item["id"] for item in page["items"])
        offset += 5
        if offset >= page["total"]:
            break
    assert pages == sorted(ids, reverse=True)  # newest first, no repeats, none missing
    by_cursor, after = [], None
    while True:
        params = {"limit": 5, "district": "长安区"} | ({"after": after} if after else {})
        page = ledger.client.get("/api/cases", params=params, headers=viewer).json()
        assert page["total"] == 6
        by_cursor.extend(item["id"] for item in page["items"])
        after = page["next"]
        if after is None:
            break
    assert by_cursor == sorted(ids[0::2], reverse=True)  # keyset pages: same order, nothing lost
    for bad in ({"after": "not-a-cursor"}, {"after": by_cursor and page["items"][0]["id"]}):
        refused = ledger.client.get("/api/cases", params=bad, headers=viewer)
        assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["query", "after"]
    first = ledger.client.get("/api/cases", params={"limit": 5}, headers=viewer).json()
    both_ways = ledger.client.get("/api/cases", params={"after": first["next"], "offset": 5}, headers=viewer)
    assert both_ways.status_code == 422
    overdue = ledger.client.get("/api/cases", params={"overdue": "true"}, headers=viewer).json()
    assert sorted(i["id"] for i in overdue["items"]) == ids[:3] and all(i["overdue"] for i in overdue["items"])
    assert ledger.client.get("/api/cases", params={"overdue": "false"}, headers=viewer).json()["total"] == 9
    by_district = ledger.client.get("/api/cases", params={"district": "长安区"}, headers=viewer).json()
    assert by_district["total"] == 6
    both = ledger.client.get("/api/cases", params={"district": "新华区", "street": "街道1"}, headers=viewer).json()
    assert {i["id"] for i in both["items"]} == {ids[1], ids[7]}
    statuses = ledger.client.get(
        "/api/cases", params=[("status", "dispatched"), ("status", "closed")], headers=viewer
    ).json()
    assert statuses["total"] == 3
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert ledger.client.get("/api/cases", params={"since": future}, headers=viewer).json()["total"] == 0
    assert ledger.client.get("/api/cases", params={"limit": 0}, headers=viewer).status_code == 422
    stats = ledger.client.get("/api/stats", headers=viewer).json()
    assert stats["overdue"] == 3 and stats["total"] == 12 and stats["by_status"] == {"registered": 9, "dispatched": 3}


@both_backends
def test_camera_verification_hook_and_auto_register(tmp_path: Path, database_url: str) -> None:
    built = make_ledger(tmp_path, database_url, rule_case={"auto_register": True, "priority": "high", "deadline_h": 2})
    try:
        event = built.event()
        assert event["case_status"] == "registered"
        case_id = event["case_id"]
        case = _move(built, case_id, to="dispatched", team="三中队").json()["case"]
        assert case["priority"] == "high"
        deadline = datetime.fromisoformat(case["deadline"])
        assert timedelta(hours=1.9) < deadline - datetime.now(UTC) < timedelta(hours=2.1)
        _move(built, case_id, to="handled", note="已处置")
        again = built.event()  # the camera still sees the van: verification fails
        assert again["case_id"] == case_id
        detail = built.client.get(f"/api/cases/{case_id}", headers=built.auth("viewer")).json()
        assert detail["status"] == "dispatched" and detail["actions"][-1]["actor"] == "system:camera"
        _move(built, case_id, to="handled", note="再次处置")
        assert (
            built.sink.zone_clear("campus-road", "kerb", "illegal_parking", datetime.now(UTC) - timedelta(hours=1))
            == []
        )  # cleared before handling
        assert built.sink.zone_clear("campus-road", "kerb", "illegal_parking", datetime.now(UTC)) == [case_id]
        detail = built.client.get(f"/api/cases/{case_id}", headers=built.auth("viewer")).json()
        assert detail["status"] == "verified" and detail["actions"][-1]["actor"] == "system:camera"
    finally:
        built.sink.close()
        built.database.dispose()


def test_transition_table_is_pure() -> None:
    assert check_transition("new", "registered", {}) == []
    assert check_transition("registered", "dispatched", {}) == ["dispatched needs 'team'"]
    assert check_transition("closed", "new", {}) == ["closed cannot go to new; allowed: dispatched"]
    assert check_transition("closed", "dispatched", {}) == ["dispatched needs 'team'"]
    assert check_transition("rejected", "new", {}) == ["rejected cannot go to new; allowed: none (final)"]
    assert all(target in TRANSITIONS for targets in TRANSITIONS.values() for target in targets)
    now = datetime.now(UTC)
    assert is_overdue("dispatched", now - timedelta(seconds=1), now)
    assert not is_overdue("closed", now - timedelta(seconds=1), now)


@both_backends
def test_one_open_case_per_place_even_when_writers_race(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    first = ledger.event()
    with pytest.raises(IntegrityError), ledger.database.session() as session:  # the database refuses a 2nd one
        session.add(
            Case(
                type="illegal_parking",
                status="new",
                source="camera",
                camera_id="campus-road",
                zone_id="kerb",
                location="",
                district="",
                street="",
                description="",
                deadline_h=24,
                event_count=0,
            )
        )
        session.flush()
    real = ledger_module.open_case_for
    calls = {"n": 0}

    def stale_once(*args: object, **kwargs: object) -> object:  # as if another writer's case was not yet visible
        calls["n"] += 1
        return None if calls["n"] == 1 else real(*args, **kwargs)

    monkeypatch.setattr(ledger_module, "open_case_for", stale_once)
    second = ledger.event()
    assert calls["n"] == 2 and second["case_id"] == first["case_id"]
    hotline = _hotline(ledger, "H-1", camera_id="campus-road", zone_id="kerb")  # hotline cases are not limited
    assert hotline["id"] != first["case_id"]


def _instant(value: object) -> object:
    """A timestamp string as an aware datetime (orjson writes +00:00, pydantic writes Z)."""
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


@both_backends
def test_list_pages_carry_the_same_fields_as_the_detail_views(ledger: Ledger) -> None:
    """The fast read paths (Core rows written by orjson) give exactly what the models give."""
    event = ledger.event()
    _hotline(ledger, "fast-1", deadline_h=2)
    viewer = ledger.auth("viewer")
    cases = ledger.client.get("/api/cases", headers=viewer).json()["items"]
    assert len(cases) == 2
    with ledger.database.session() as session:
        for listed in cases:
            model = case_out(session.get(Case, listed["id"])).model_dump(mode="json")
            detail = ledger.client.get(f"/api/cases/{listed['id']}", headers=viewer).json()
            assert {k: _instant(v) for k, v in listed.items()} == {k: _instant(v) for k, v in model.items()}
            assert {k: v for k, v in detail.items() if k not in ("events", "exports", "actions")} == listed
            assert set(case_payload(session.get(Case, listed["id"]))) == set(listed)
        one = event_out(session.get(Event, event["id"])).model_dump(mode="json")
    listed_event = ledger.client.get("/api/events", headers=viewer).json()["items"][0]
    assert listed_event["evidence"] and listed_event["snapshot_url"].endswith("/snapshot.jpg")
    assert {k: _instant(v) for k, v in listed_event.items()} == {k: _instant(v) for k, v in one.items()}
    in_detail = ledger.client.get(f"/api/cases/{event['case_id']}", headers=viewer).json()["events"][0]
    assert in_detail == listed_event


@both_backends
def test_a_hotline_case_has_its_deadline_from_intake(ledger: Ledger) -> None:
    created = _hotline(ledger, "12345-2026-0001")
    deadline = datetime.fromisoformat(created["deadline"])
    assert abs(deadline - (datetime.now(UTC) + timedelta(hours=24))) < timedelta(minutes=1)
    assert not created["overdue"]
    dispatched = _move(ledger, created["id"], to="dispatched", team="第一执法中队")
    assert dispatched.status_code == 200, dispatched.text
    assert datetime.fromisoformat(dispatched.json()["case"]["deadline"]) == deadline  # the call's clock runs on


@both_backends
def test_a_bulk_review_decides_the_repeats_of_one_case_each_on_its_own(ledger: Ledger) -> None:
    events = [ledger.event() for _ in range(4)]
    assert len({e["case_id"] for e in events}) == 1  # the repeats of one stay gather on one case
    operator = ledger.auth("operator")
    one = ledger.client.post(f"/api/events/{events[0]['id']}/review", json={"action": "confirm"}, headers=operator)
    assert one.status_code == 200
    ids = [e["id"] for e in events] + [999_999]
    answer = ledger.client.post("/api/events/bulk-review", json={"ids": ids, "action": "confirm"}, headers=operator)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["reviewed"] == 3
    assert [r["status"] for r in body["results"]] == [409, 200, 200, 200, 404]  # each decided on its own
    assert {r["case_id"] for r in body["results"] if r["status"] == 200} == {events[0]["case_id"]}
    assert (
        ledger.client.post(
            "/api/events/bulk-review", json={"ids": ids, "action": "reject"}, headers=operator
        ).status_code
        == 422
    )
    viewer = ledger.client.post(
        "/api/events/bulk-review", json={"ids": ids, "action": "confirm"}, headers=ledger.auth("viewer")
    )
    assert viewer.status_code == 403
    listed = ledger.client.get("/api/events", params={"review_status": "pending"}, headers=ledger.auth("viewer"))
    assert listed.json()["total"] == 0
