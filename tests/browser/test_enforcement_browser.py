"""Parking enforcement by plate in Debian's Chromium (Playwright), over a real server and the real
sink (issue #16): a viewer sees the case's plate and the owner's masked phone and no step buttons;
an operator phones the owner, grants the first-violation waiver once the vehicle has left within
the grace, and looks the owner up (the full number shown in place, the lookup in the audit trail);
the vehicles page lists a plate parked again on another day, and the campaign report shows its
counts and downloads as Excel."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from api.app import create_app
from citywatch.events import EventEnd
from tests.browser.conftest import screenshot, sign_in
from tests.ledger_support import Ledger, make_ledger
from tests.support import ThreadServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

PLATE = {"text": "豫D12345", "color": "blue", "confidence": 0.96}
PHONE = "13812345678"
MASKED = "138****5678"
DAY = 86400.0


@dataclass(frozen=True)
class Served:
    base: str
    ledger: Ledger

    def token(self, role: str) -> str:
        return self.ledger.tokens[role]

    def call(self, method: str, path: str, role: str = "operator", **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token(role)}"}
        answer = httpx.request(method, self.base + path, headers=headers, timeout=10, **kwargs)
        assert answer.status_code < 300, answer.text
        return answer


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[Served]:
    """A real server over a fresh SQLite ledger with one token per role and the plate's owner registered."""
    ledger = make_ledger(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}")
    with ThreadServer(create_app(ledger.config, ledger.database)) as server:
        served = Served(server.base, ledger)
        served.call("PUT", f"/api/owners/{PLATE['text']}", role="admin", json={"name": "张三", "phone": PHONE})
        yield served
    ledger.sink.close()
    ledger.database.dispose()


def parked(served: Served, at: float) -> dict:
    """A plated vehicle's illegal-parking event at wall time `at`, still there."""
    return served.ledger.event(at=at, plate=PLATE)


def leaves(served: Served, event: dict, after_s: float) -> None:
    """The vehicle of `event` leaves `after_s` stream seconds after its trigger."""
    served.ledger.sink.end(EventEnd(event["uid"], "campus-road", 20.5 + after_s, 20.0 + after_s))


def close(served: Served, case_id: int) -> None:
    """Walk a case to closed, as a team and an operator would (tests/test_enforcement.py)."""
    for body in (
        {"to": "registered"},
        {"to": "dispatched", "team": "第一中队"},
        {"to": "handled", "note": "车辆已驶离"},
        {"to": "verified", "note": "现场核查无车"},
        {"to": "closed", "note": "结案"},
    ):
        served.call("POST", f"/api/cases/{case_id}/transitions", json=body)


def open_case(page, served: Served, role: str, case_id: int) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, served.base, served.token(role))
    page.goto(f"{served.base}/#/case/{case_id}")
    page.wait_for_selector("#enforcement")


def test_a_viewer_sees_the_plate_and_the_masked_phone_only(served: Served, console_page) -> None:  # type: ignore[no-untyped-def]
    page = console_page
    event = parked(served, time.time() - 5)
    open_case(page, served, "viewer", event["case_id"])
    chip = page.locator("#enforcement .enf-head .plate")
    assert chip.inner_text() == "豫D12345" and "plate-blue" in (chip.get_attribute("class") or "")
    assert page.locator("#badge-first").inner_text() == "首违"
    assert page.inner_text("#owner-phone") == MASKED
    assert page.locator("#enf-actions").count() == 0 and page.locator("#btn-owner-lookup").count() == 0
    assert page.locator("#enforcement button").count() == 0  # no step buttons at all
    assert page.locator("table.kv .plate", has_text="豫D12345").count() == 1  # the case's event shows its plate
    text, html = page.inner_text("body"), page.content()
    assert PHONE not in text and PHONE not in html and "12345678" not in html
    screenshot(page, "enforcement-viewer")
    page.goto(f"{served.base}/#/queue")  # the alert queue shows the plate too
    page.wait_for_selector(f"#event-{event['id']} .plate")
    assert page.inner_text(f"#event-{event['id']} .plate") == "豫D12345"
    assert page.inner_text("#event-plate") == "豫D12345"


def test_an_operator_phones_waives_and_looks_the_owner_up(served: Served, console_page) -> None:  # type: ignore[no-untyped-def]
    page = console_page
    event = parked(served, time.time() - 5)
    case_id = event["case_id"]
    open_case(page, served, "operator", case_id)
    assert "suggested" in (page.get_attribute("#enf-phone", "class") or "")
    assert page.is_disabled("#enf-waiver")  # no notice yet, and the vehicle is still there
    assert page.inner_text("#enf-left") == "仍在场"
    # the server's refusal is shown as it says it (the button forced on, as a stale page would have it)
    page.guard.allow_status(f"/api/cases/{case_id}/enforcement", 409)
    page.evaluate("document.querySelector('#enf-waiver').disabled = false")
    page.click("#enf-waiver")
    assert "no notice was given yet" in page.locator("#toasts .toast.error").first.inner_text()
    page.fill("#enf-note", "已电话通知车主移车")
    page.click("#enf-phone")
    page.wait_for_selector("#enf-steps li[data-step=phone]")
    step = page.inner_text("#enf-steps li[data-step=phone]")
    assert "电话通知车主" in step and "operator-1" in step and "已电话通知车主移车" in step
    assert page.input_value("#enf-note") == ""
    assert page.locator("#audit li[data-action=enforcement]").count() == 1

    leaves(served, event, 60.0)  # a minute after the trigger: within the grace after the phone call
    page.reload()
    page.wait_for_selector("#enforcement")
    assert page.is_enabled("#enf-waiver") and "suggested" in (page.get_attribute("#enf-waiver", "class") or "")
    assert "宽限期内驶离" in page.inner_text("#enf-left")
    page.click("#enf-waiver")
    page.wait_for_selector("#enf-steps li[data-step=waiver]")
    assert page.locator("#enf-steps li").evaluate_all("els => els.map(e => e.dataset.step)") == ["phone", "waiver"]
    assert page.inner_text("#badge-waived") == "已免罚" and page.is_disabled("#enf-waiver")
    screenshot(page, "enforcement-operator")

    assert page.inner_text("#owner-phone") == MASKED
    page.click("#btn-owner-lookup")
    page.wait_for_selector("#owner-audited")
    assert page.inner_text("#owner-phone") == PHONE and "查询已记录" in page.inner_text("#owner")
    page.wait_for_selector("#audit li[data-action=owner_lookup]")
    assert "查询车主" in page.inner_text("#audit li[data-action=owner_lookup]")
    screenshot(page, "enforcement-owner-lookup")
    case = served.call("GET", f"/api/cases/{case_id}", role="viewer").json()
    assert [a["actor"] for a in case["actions"] if a["action"] == "owner_lookup"] == ["operator-1"]


def test_vehicles_page_lists_a_repeat_offender_and_the_report_downloads(served: Served, console_page) -> None:  # type: ignore[no-untyped-def]
    page = console_page
    first = parked(served, time.time() - DAY)  # yesterday
    leaves(served, first, 30.0)
    served.call("POST", f"/api/cases/{first['case_id']}/enforcement", json={"step": "move_on"})
    close(served, first["case_id"])
    second = parked(served, time.time() - 5)  # parked again today: a new case, a repeat
    assert second["case_id"] != first["case_id"]
    served.call("POST", f"/api/cases/{second['case_id']}/enforcement", json={"step": "notice"})
    served.call("POST", f"/api/cases/{second['case_id']}/enforcement", json={"step": "tow", "vehicle_kind": "car"})

    open_case(page, served, "viewer", second["case_id"])
    assert "此前违停 1 次" in page.inner_text("#badge-repeat")
    assert page.locator("#badge-first").count() == 0
    assert [x.strip() for x in page.locator("#enf-steps .enf-step").all_inner_texts()] == ["开具违停告知单", "拖移"]

    page.click('#nav a[data-page="vehicles"]')
    page.wait_for_selector('#vehicle-list tr[data-plate="豫D12345"]')
    row = page.locator('#vehicle-list tr[data-plate="豫D12345"]')
    assert row.locator("td.num").all_inner_texts() == ["2", "2"]
    page.select_option("#vehicle-window", "30")
    page.wait_for_selector('#vehicle-list tr[data-plate="豫D12345"]')
    page.wait_for_selector("#campaign-table")
    counts = {
        key: page.inner_text(f'#campaign-table tr[data-key="{key}"] td.num')
        for key in ("cases", "plates_read", "moved_on", "notices", "towed_car", "towed", "repeat_offenders")
    }
    assert counts == {
        "cases": "2",
        "plates_read": "1",
        "moved_on": "1",
        "notices": "1",
        "towed_car": "1",
        "towed": "1",
        "repeat_offenders": "1",
    }
    assert "违停案件数" in page.inner_text("#campaign-table")
    screenshot(page, "vehicles-and-report")
    with page.expect_download() as download:
        page.click("#btn-campaign-xlsx")
    saved = download.value
    assert saved.suggested_filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(Path(saved.path()).read_bytes())).active
    cells = {row[0]: row[2] for row in sheet.iter_rows(min_row=3, values_only=True)}
    assert cells["towed_car"] == 1 and cells["repeat_offenders"] == 1

    page.click('#vehicle-list a.plate[data-plate="豫D12345"]')
    page.wait_for_selector("#vehicle-page")
    assert page.locator("#vehicle-events tr").count() == 2
    assert page.locator("#vehicle-cases tr").count() == 2
    screenshot(page, "vehicle-history")
    page.click(f'#vehicle-cases a[href="#/case/{first["case_id"]}"]')
    page.wait_for_selector("#enforcement")
    assert page.inner_text("#case-status") == "已结案"
