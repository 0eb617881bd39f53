"""The shift handover page (交接班, issue #17) in Debian's Chromium: its numbers are the API's
(`GET /api/handover` and the open cases), by team too; it copies a plain-text summary, and on paper
(the print stylesheet) the console's top bar and buttons are gone."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from tests.browser.conftest import sign_in
from tests.ledger_support import Ledger, make_ledger
from tests.support import ThreadServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


def dispatch(base: str, ledger: Ledger, event_id: int, team: str, deadline: datetime) -> int:
    """Confirm an alert and dispatch its case to `team` with `deadline`, over the API; the case id."""
    operator = ledger.auth("operator")
    review = httpx.post(f"{base}/api/events/{event_id}/review", json={"action": "confirm"}, headers=operator)
    review.raise_for_status()
    answer = review.json()
    case_id = int(answer.get("case_id") or answer["case"]["id"])
    body = {"to": "dispatched", "team": team, "deadline": deadline.isoformat()}
    httpx.post(f"{base}/api/cases/{case_id}/transitions", json=body, headers=operator).raise_for_status()
    return case_id


def number(page, selector: str) -> int:  # type: ignore[no-untyped-def]
    return int(page.inner_text(f"{selector} .ho-value"))


def test_handover_numbers_match_the_api(tmp_path: Path, console_page) -> None:  # type: ignore[no-untyped-def]
    ledger = make_ledger(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        events = [ledger.event(zone=zone) for zone in ("kerb", "lane", "corner", "gate", "yard")]
        now = datetime.now(UTC)
        with ThreadServer(create_app(ledger.config, ledger.database)) as server:
            late = dispatch(server.base, ledger, events[0]["id"], "第一中队", now - timedelta(hours=1))
            dispatch(server.base, ledger, events[1]["id"], "第一中队", now + timedelta(hours=2))
            dispatch(server.base, ledger, events[2]["id"], "第二中队", now - timedelta(minutes=5))
            since = (now - timedelta(hours=12)).isoformat()
            api = httpx.get(f"{server.base}/api/handover", params={"since": since}, headers=ledger.auth("viewer"))
            summary = api.json()
            assert summary["alerts"]["pending"] == 2 and summary["overdue"]["count"] == 2  # the data is what we meant

            page = console_page
            page.context.grant_permissions(["clipboard-read", "clipboard-write"])
            sign_in(page, server.base, ledger.tokens["operator"])
            page.click('#nav a[data-page="handover"]')
            page.wait_for_selector("#ho-pending")
            assert page.inner_text('#nav a[data-page="handover"]') == "交接班"
            assert number(page, "#ho-pending") == summary["alerts"]["pending"]
            assert number(page, "#ho-arrived") == summary["alerts"]["arrived"] == 5
            assert number(page, "#ho-open") == sum(summary["open_cases"].values()) == 5
            assert number(page, "#ho-overdue") == summary["overdue"]["count"]
            assert "常态模式" in page.inner_text("#ho-mode")
            overdue_ids = {int(x) for x in re.findall(r"#(\d+)", page.inner_text("#handover-overdue tbody"))}
            assert overdue_ids == {c["id"] for c in summary["overdue"]["cases"]}
            assert late in overdue_ids
            assert page.locator("#handover-due tbody tr").count() == len(summary["due_soon"]["cases"]) == 1
            teams = {
                row.locator("td").nth(0).inner_text(): (int(row.locator("td").nth(1).inner_text()),
                                                         int(row.locator("td").nth(2).inner_text()))
                for row in page.locator("#handover-teams tbody tr").all()
            }  # fmt: skip
            assert teams == {"第一中队": (2, 1), "第二中队": (1, 1), "未派遣": (2, 0)}
            statuses = dict(
                (row.locator("td").nth(0).inner_text(), int(row.locator("td").nth(1).inner_text()))
                for row in page.locator("#handover-status tbody tr").all()
            )
            assert statuses["已派遣"] == summary["open_cases"]["dispatched"] == 3

            page.click("#handover-copy")
            page.wait_for_selector(".toast:has-text('交接班摘要已复制')")
            text = page.evaluate("navigator.clipboard.readText()")
            assert f"待审核告警：{summary['alerts']['pending']}" in text
            assert f"超期案件：{summary['overdue']['count']}" in text
            assert "第一中队：未结案件 2，超期案件 1" in text

            page.emulate_media(media="print")
            assert not page.is_visible("#topbar")
            assert not page.is_visible("#handover-print")
            assert page.is_visible("#ho-pending")
            page.emulate_media(media="screen")
            assert page.is_visible("#handover-print")
            page.goto("about:blank")
    finally:
        ledger.sink.close()
        ledger.database.dispose()
