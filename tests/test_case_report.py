"""The statistics report (issue #17) over the real sink and API, on SQLite and PostgreSQL: cases
ranked by district, street, team and camera, handling times and on-time rates, false-alarm rates
per camera and rule; the CSV and the Excel workbook (read back with openpyxl) carry the API's
numbers."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook

from tests.ledger_support import BACKENDS, Ledger

both_backends = pytest.mark.parametrize("database_url", BACKENDS, indirect=True)


def _move(ledger: Ledger, case_id: int, **body: object) -> None:
    answer = ledger.client.post(f"/api/cases/{case_id}/transitions", json=body, headers=ledger.auth("operator"))
    assert answer.status_code == 200, answer.text


@both_backends
def test_rankings_rates_and_the_workbook_agree(ledger: Ledger) -> None:
    operator, viewer = ledger.auth("operator"), ledger.auth("viewer")
    kerb = ledger.event()  # one case on the kerb: confirmed, dispatched, handled on time
    confirm = ledger.client.post(f"/api/events/{kerb['id']}/review", json={"action": "confirm"}, headers=operator)
    assert confirm.status_code == 200
    case_id = kerb["case_id"]
    ledger.event(zone="kerb")  # attached to the same case
    false_alarm = ledger.event(zone="kerb")
    rejected = ledger.client.post(
        f"/api/events/{false_alarm['id']}/review", json={"action": "reject", "reason": "误报"}, headers=operator
    )
    assert rejected.status_code == 200
    late = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    _move(ledger, case_id, to="dispatched", team="第一执法中队", deadline=late)
    _move(ledger, case_id, to="handled", note="已驶离")
    hotline = ledger.client.post(
        "/api/cases",
        json={"source": "hotline", "ticket": "12345-7", "type": "litter", "description": "垃圾", "location": "光明路",
              "district": "长安区", "street": "建北街道"},
        headers=operator,
    )  # fmt: skip
    assert hotline.status_code == 201

    start = datetime.now(UTC) - timedelta(days=1)
    span = {"start": start.isoformat(), "end": (start + timedelta(days=2)).isoformat()}
    report = ledger.client.get("/api/reports/cases", params=span, headers=viewer).json()
    totals = report["totals"]
    assert (totals["cases"], totals["handled"], totals["on_time"], totals["rated"]) == (2, 1, 1, 1)
    assert totals["on_time_rate"] == 1.0 and totals["median_handling_h"] is not None
    assert [(r["key"], r["cases"]) for r in report["by_district"]] == [("新华区", 1), ("长安区", 1)]
    assert {r["key"]: r["cases"] for r in report["by_team"]} == {"第一执法中队": 1, "—": 1}
    (camera,) = report["false_alarms"]["camera"]
    assert (camera["key"], camera["events"], camera["reviewed"], camera["rejected"]) == ("campus-road", 3, 2, 1)
    assert camera["false_alarm_rate"] == 0.5
    assert report["false_alarms"]["rule"][0]["key"] == "kerb-no-parking"

    book = ledger.client.get("/api/reports/cases", params={**span, "format": "xlsx"}, headers=viewer)
    assert book.status_code == 200
    sheets = load_workbook(io.BytesIO(book.content))
    header, row = list(sheets["总计"].iter_rows(values_only=True))
    assert dict(zip(header, row, strict=True)) == {k: v for k, v in totals.items()}
    by_camera = list(sheets["误报率（按摄像头）"].iter_rows(values_only=True))
    assert by_camera[1][1:] == (3, 2, 1, 0.5)
    as_csv = ledger.client.get("/api/reports/cases", params={**span, "format": "csv"}, headers=viewer)
    lines = list(csv.reader(io.StringIO(as_csv.text.lstrip("\ufeff"))))
    assert lines[0] == ["总计", "totals"] and lines[2][1] == "2"
    bad = {"start": span["end"], "end": span["start"]}
    assert ledger.client.get("/api/reports/cases", params=bad, headers=viewer).status_code == 422


@both_backends
def test_the_handover_summary_says_what_the_next_shift_takes_over(ledger: Ledger) -> None:
    shift_start = datetime.now(UTC) - timedelta(hours=8)
    operator, viewer = ledger.auth("operator"), ledger.auth("viewer")
    overdue, due = ledger.event(zone="kerb"), ledger.event(zone="kerb", rule="other", type_="litter")
    ledger.event(zone="kerb")  # a repeat, still pending
    for event in (overdue, due):
        assert (
            ledger.client.post(
                f"/api/events/{event['id']}/review", json={"action": "confirm"}, headers=operator
            ).status_code
            == 200
        )
    past = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    _move(ledger, overdue["case_id"], to="dispatched", team="第一执法中队", deadline=past)
    _move(ledger, due["case_id"], to="dispatched", team="第二执法中队", deadline=soon)
    summary = ledger.client.get("/api/handover", params={"since": shift_start.isoformat()}, headers=viewer).json()
    assert summary["alerts"] == {"pending": 1, "arrived": 3}
    assert summary["open_cases"]["dispatched"] == 2
    assert summary["overdue"]["count"] == 1 and [c["id"] for c in summary["overdue"]["cases"]] == [overdue["case_id"]]
    assert [c["id"] for c in summary["due_soon"]["cases"]] == [due["case_id"]]
    assert summary["shift"]["opened"] == 2
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert ledger.client.get("/api/handover", params={"since": future}, headers=viewer).status_code == 422
