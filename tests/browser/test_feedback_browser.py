"""Learning from feedback (issue #18) in Debian's Chromium: an operator opens "标注" on an alert,
sees the detector's box, draws a box of another label by dragging on the evidence and saves (the
stored annotation holds both boxes, the drawn one where it was drawn); an admin activates a
suppression proposed by three rejections and undoes it again (each decision stored)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from api.app import create_app
from citywatch.domain import annotations as marking
from citywatch.domain.tables import Suppression
from citywatch.events import EventRecord
from tests.browser.conftest import screenshot, sign_in
from tests.ledger_support import Ledger, make_ledger
from tests.support import ThreadServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

WIDTH, HEIGHT = 1280, 720
VAN = (1060.0, 40.0, 1200.0, 170.0)


def _frame_jpeg() -> bytes:
    image = np.full((HEIGHT, WIDTH, 3), 80, np.uint8)
    cv2.rectangle(image, (int(VAN[0]), int(VAN[1])), (int(VAN[2]), int(VAN[3])), (240, 240, 240), -1)
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return data.tobytes()


def _alert(ledger: Ledger) -> dict[str, Any]:
    return ledger.sink.record(
        EventRecord(
            uid=str(uuid.uuid4()),
            type="illegal_parking",
            camera_id="campus-road",
            rule_id="kerb-no-parking",
            zone_id="kerb",
            label="truck",
            track_id=1,
            first_seen_s=0.5,
            triggered_s=20.5,
            score=0.7,
            box=VAN,
            occurred_wall_s=time.time(),
            images={"trigger": _frame_jpeg()},
        )
    )


def test_an_operator_draws_a_box_on_an_alert_and_saves_it(tmp_path: Path, console_page) -> None:  # type: ignore[no-untyped-def]
    ledger = make_ledger(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        event = _alert(ledger)
        with ThreadServer(create_app(ledger.config, ledger.database)) as server:
            page = console_page
            sign_in(page, server.base, ledger.tokens["operator"])
            page.goto(f"{server.base}/#/queue")
            page.click("#btn-annotate")
            page.wait_for_selector("#annotate-stage[data-ready='1'] .annotate-box")  # the detector's box
            assert page.locator(".annotate-box").count() == 1
            assert page.get_attribute(".annotate-box", "data-label") == "truck"
            page.select_option("#annotate-label", "person")
            stage = page.locator("#annotate-stage").bounding_box()
            assert stage is not None
            x, y, w, h = stage["x"], stage["y"], stage["width"], stage["height"]
            page.mouse.move(x + 0.1 * w, y + 0.2 * h)
            page.mouse.down()
            page.mouse.move(x + 0.25 * w, y + 0.4 * h, steps=5)
            page.mouse.move(x + 0.4 * w, y + 0.6 * h, steps=5)
            page.mouse.up()
            assert page.locator(".annotate-box").count() == 2
            screenshot(page, "annotate-dialog")
            page.click("#dialog-ok")
            page.wait_for_selector(".toast.ok")
            with ledger.database.read_session() as session:
                (row,) = marking.list_annotations(session)
                assert row.event_id == event["id"] and row.created_by == "operator-1"
                boxes = {b["label"]: b["box"] for b in row.boxes}
            assert boxes["truck"] == pytest.approx(
                [VAN[0] / WIDTH, VAN[1] / HEIGHT, VAN[2] / WIDTH, VAN[3] / HEIGHT], abs=1e-3
            )
            assert boxes["person"] == pytest.approx([0.1, 0.2, 0.4, 0.6], abs=0.01)
            page.goto(f"{server.base}/#/case/{event['case_id']}")  # the case page offers it on the evidence too
            page.click(f"#btn-annotate-{event['id']}")
            page.wait_for_selector("#annotate-stage[data-ready='1'] .annotate-box")
            page.click("#dialog .ghost")  # cancel: nothing more is stored
            with ledger.database.read_session() as session:
                assert marking.count_annotations(session) == 1
            page.goto("about:blank")
    finally:
        ledger.sink.close()
        ledger.database.dispose()


def test_an_admin_activates_and_undoes_a_learnt_suppression(tmp_path: Path, console_page) -> None:  # type: ignore[no-untyped-def]
    ledger = make_ledger(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        for _ in range(3):
            answer = ledger.client.post(
                f"/api/events/{_alert(ledger)['id']}/review",
                json={"action": "reject", "reason": "不是违规"},
                headers=ledger.auth("operator"),
            )
            assert answer.status_code == 200, answer.text
        with ThreadServer(create_app(ledger.config, ledger.database)) as server:
            page = console_page
            sign_in(page, server.base, ledger.tokens["operator"])  # not an admin: no link
            assert page.locator('#nav a[data-page="suppressions"]').is_hidden()
            page.evaluate("localStorage.clear(); sessionStorage.clear()")  # sign out, then in as the admin
            sign_in(page, server.base, ledger.tokens["admin"])
            page.click('#nav a[data-page="suppressions"]')
            page.wait_for_selector(".suppression[data-status='proposed'] .suppression-region")
            assert "3" in page.inner_text(".suppression")
            screenshot(page, "suppressions-proposed")
            page.click(".suppression .btn-activate")
            page.wait_for_selector(".suppression[data-status='active']")
            assert _status(ledger) == ("active", "admin-1")
            held = _alert(ledger)  # the next alert there is held back
            assert held["review_status"] == "suppressed"
            page.click(".suppression .btn-revoke")
            page.wait_for_selector(".suppression[data-status='revoked']")
            assert _status(ledger) == ("revoked", "admin-1")
            listed = httpx.get(f"{server.base}/api/suppressions", headers=ledger.auth("admin")).json()["items"]
            assert listed[0]["suppressed"] == 1
            page.goto("about:blank")
    finally:
        ledger.sink.close()
        ledger.database.dispose()


def _status(ledger: Ledger) -> tuple[str, str | None]:
    with ledger.database.read_session() as session:
        (row,) = session.query(Suppression).all()
        return row.status, row.decided_by
