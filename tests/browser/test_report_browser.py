"""The statistics page's report (issue #17) in Debian's Chromium: for a date range it shows the
totals, the rankings and the false-alarm rates from `GET /api/reports/cases`, and its Excel export
downloads a workbook whose totals are the API's (read back with openpyxl)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook

from api.app import create_app
from tests.browser.conftest import screenshot, sign_in
from tests.ledger_support import make_ledger
from tests.support import ThreadServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]


def test_the_report_shows_the_range_and_exports_the_same_numbers(tmp_path: Path, console_page) -> None:  # type: ignore[no-untyped-def]
    ledger = make_ledger(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        first, second = ledger.event(), ledger.event()
        operator = ledger.auth("operator")
        ledger.client.post(
            f"/api/events/{second['id']}/review", json={"action": "reject", "reason": "误报"}, headers=operator
        )
        ledger.client.post(f"/api/events/{first['id']}/review", json={"action": "confirm"}, headers=operator)
        with ThreadServer(create_app(ledger.config, ledger.database)) as server:
            page = console_page
            sign_in(page, server.base, ledger.tokens["viewer"])
            page.goto(f"{server.base}/#/stats")
            page.wait_for_function("() => document.querySelector('#report-total')?.textContent === '1'")
            assert page.inner_text('#report-by_district tr[data-key="新华区"] td:nth-child(2)') == "1"
            assert page.inner_text('#report-false-camera tr[data-key="campus-road"] td:last-child') == "50%"
            assert "Campus road junction" in page.inner_text("#report-false-camera")  # the camera's name, not its id
            screenshot(page, "stats-report")
            with page.expect_download() as info:
                page.click("#report-xlsx")
            book = load_workbook(io.BytesIO(Path(info.value.path()).read_bytes()))
            header, row = list(book["总计"].iter_rows(values_only=True))
            start = datetime.now(UTC) - timedelta(days=14)
            api = httpx.get(
                f"{server.base}/api/reports/cases",
                params={"start": start.isoformat(), "end": (datetime.now(UTC) + timedelta(days=1)).isoformat()},
                headers=ledger.auth("viewer"),
            ).json()["totals"]
            assert dict(zip(header, row, strict=True))["cases"] == api["cases"] == 1
            page.goto("about:blank")  # leave before the server stops (its live stream would break)
    finally:
        ledger.sink.close()
        ledger.database.dispose()
