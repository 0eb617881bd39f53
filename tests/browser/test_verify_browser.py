"""Verification (核查) beside the camera's current frame (issue #17): the van on vtest.avi replayed by
a real runtime, its alert confirmed and the case dispatched through the API; the case page then
shows the trigger photo and the camera's latest frame side by side (both really loaded images),
refreshes the current one on request, and says the automatic check has no result yet (the van is
still parked when the footage ends)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from citywatch.config import CitywatchConfig
from citywatch.domain.accounts import add_user
from citywatch.domain.db import open_database
from tests.browser.conftest import sign_in
from tests.support import ThreadServer, demo_config_dict, running_app

pytestmark = [pytest.mark.browser, pytest.mark.footage, pytest.mark.timeout(240)]

LOADED = "(sel) => { const img = document.querySelector(sel); return !!img && img.complete && img.naturalWidth > 0; }"


def test_case_page_puts_the_trigger_beside_the_camera_now(tmp_path: Path, console_page) -> None:  # type: ignore[no-untyped-def]
    data = demo_config_dict(tmp_path, replay={"speed": "fast"})
    config = CitywatchConfig.model_validate(data)
    with running_app(config) as (app, _runtime, _viewer), ThreadServer(app) as server:
        database = open_database(config.storage.database_url)
        with database.session() as session:
            operator = {"Authorization": f"Bearer {add_user(session, 'li.operator', 'operator')}"}
        database.dispose()
        deadline = time.monotonic() + 150
        while True:
            events = httpx.get(f"{server.base}/api/events", headers=operator).json()["items"]
            if events:
                break
            assert time.monotonic() < deadline, "the parked van raised no event"
            time.sleep(1)
        review = httpx.post(
            f"{server.base}/api/events/{events[0]['id']}/review", json={"action": "confirm"}, headers=operator
        )
        assert review.status_code == 200, review.text
        case_id = review.json()["case"]["id"]
        moved = httpx.post(
            f"{server.base}/api/cases/{case_id}/transitions",
            json={"to": "dispatched", "team": "第一执法中队"},
            headers=operator,
        )
        assert moved.status_code == 200, moved.text

        page = console_page
        sign_in(page, server.base, operator["Authorization"].split(" ", 1)[1])
        page.goto(f"{server.base}/#/case/{case_id}")
        page.wait_for_selector("#verify-panel")
        page.wait_for_function(LOADED, arg="#verify-before", timeout=15_000)
        page.wait_for_function(LOADED, arg="#verify-now", timeout=15_000)
        first = page.eval_on_selector("#verify-now", "img => img.src")
        assert "核查" in page.inner_text("#verify-panel")
        assert "自动核查尚无结果" in page.inner_text("#verify-auto")
        page.click("#verify-refresh")
        page.wait_for_function("(old) => document.querySelector('#verify-now').src !== old", arg=first, timeout=10_000)
        page.wait_for_function(LOADED, arg="#verify-now", timeout=15_000)
        page.goto("about:blank")  # leave before the server stops, so its live stream is not cut under the page
