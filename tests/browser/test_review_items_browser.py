"""Review items in the alert queue (issue #17), in Debian's Chromium: ten repeats of one stay (one
case) show as one item with a count of 10, and one bulk decision settles all ten (each stored:
the API lists none pending afterwards); a confirm on a case already dispatched says so instead
of "case registered"."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from api.app import create_app
from tests.browser.conftest import screenshot, sign_in
from tests.ledger_support import make_ledger
from tests.support import ThreadServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]


def test_ten_repeats_are_one_item_with_one_decision(tmp_path: Path, console_page) -> None:  # type: ignore[no-untyped-def]
    ledger = make_ledger(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        events = [ledger.event() for _ in range(10)]
        assert len({e["case_id"] for e in events}) == 1
        with ThreadServer(create_app(ledger.config, ledger.database)) as server:
            page = console_page
            sign_in(page, server.base, ledger.tokens["operator"])
            page.goto(f"{server.base}/#/queue")
            page.wait_for_selector(".event-row")
            assert page.locator(".event-row").count() == 1  # one item for the ten
            assert page.inner_text(".event-row .repeat-count") == "×10"
            assert "10" in page.inner_text("#btn-confirm-all")
            screenshot(page, "queue-grouped")
            page.click("#btn-confirm-all")
            page.wait_for_selector(".event-row", state="detached")
            pending = httpx.get(
                f"{server.base}/api/events", params={"review_status": "pending"}, headers=ledger.auth("viewer")
            ).json()
            assert pending["total"] == 0
            confirmed = httpx.get(
                f"{server.base}/api/events", params={"review_status": "confirmed"}, headers=ledger.auth("viewer")
            ).json()
            assert confirmed["total"] == 10
            page.goto("about:blank")
    finally:
        ledger.sink.close()
        ledger.database.dispose()
