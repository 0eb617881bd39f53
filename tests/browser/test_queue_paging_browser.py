"""A long alert queue is never cut off (issue #17): with 230 pending alerts on different cases the
queue shows the first 200 items and a button for the rest, which loads the remaining 30."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.app import create_app
from tests.browser.conftest import sign_in
from tests.ledger_support import make_ledger
from tests.support import ThreadServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


def test_the_queue_loads_the_next_page_on_request(tmp_path: Path, console_page) -> None:  # type: ignore[no-untyped-def]
    ledger = make_ledger(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        events = [ledger.event(zone=f"bay-{i}") for i in range(230)]  # a place each: one case each
        assert len({e["case_id"] for e in events}) == 230
        with ThreadServer(create_app(ledger.config, ledger.database)) as server:
            page = console_page
            sign_in(page, server.base, ledger.tokens["operator"])
            page.goto(f"{server.base}/#/queue")
            page.wait_for_selector(".event-row")
            assert page.locator(".event-row").count() == 200
            assert "30" in page.inner_text("#load-more")
            page.click("#load-more")
            page.wait_for_function("() => document.querySelectorAll('.event-row').length === 230")
            assert page.locator("#load-more").count() == 0
            page.goto("about:blank")
    finally:
        ledger.sink.close()
        ledger.database.dispose()
