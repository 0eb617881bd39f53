"""The operator console in a real browser (Debian's Chromium via Playwright).

1. End to end: `citywatch run` replays vtest.avi; the parking event appears in the queue live; it is
   confirmed, its case dispatched, handled, verified and closed, with the audit trail shown; flood
   mode is switched on and seen on the camera wall. Screenshots go to docs/screenshots/.
2. A viewer sees no action buttons, and the API refuses the actions anyway.
3. Ten alerts are reviewed with the keyboard only.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import cv2
import httpx
import numpy as np
import pytest

from api.app import attach_pipeline, create_app
from citywatch.config import CitywatchConfig
from citywatch.config.teams import default_teams
from citywatch.domain.accounts import add_user
from citywatch.domain.cameras import register_cameras
from citywatch.domain.db import open_database
from citywatch.domain.tables import Case
from citywatch.events import EventRecord
from citywatch.sink import EventSink
from citywatch.uptime import UptimeTracker
from tests.browser.conftest import screenshot, sign_in
from tests.support import DOG, CitywatchProcess, ThreadServer, demo_config_dict, write_config
from vision.streams import StreamState

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


def _config(tmp_path: Path, speed: float = 5.0) -> dict:
    data = demo_config_dict(tmp_path, replay={"speed": speed, "loop": False})
    data["cameras"][0]["groups"] = ["flood"]
    # two more cameras, switched off, so the wall shows states and the group filter has work to do
    for camera_id, name, street, groups in (
        ("river-underpass", "滨河路下穿隧道", "滨河街道", ["flood"]),
        ("market-east", "东市场北门", "东关街道", []),
    ):
        data["cameras"].append(
            {
                "id": camera_id,
                "name": name,
                "district": "新华区",
                "street": street,
                "url": f"rtsp://127.0.0.1:8554/{camera_id}",
                "enabled": False,
                "groups": groups,
            }
        )
    data["api"] = {"anonymous_read": False}
    data["modes"] = {
        "normal": {"description": "常态：全部规则"},
        "flood": {"description": "汛期：防汛分组优先分析", "groups": {"flood": {"priority": "high"}}},
    }
    return data


def _users(url: str) -> dict[str, str]:
    database = open_database(url)
    with database.session() as session:
        tokens = {
            "admin": add_user(session, "zhang.wei", "admin"),
            "operator": add_user(session, "wang.li", "operator"),
            "viewer": add_user(session, "chen.jing", "viewer"),
        }
    database.dispose()
    return tokens


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _jpeg(seed: int) -> bytes:
    image = np.full((288, 384, 3), 60 + seed * 15 % 150, np.uint8)
    cv2.rectangle(image, (40 + seed * 10, 60), (200 + seed * 10, 180), (0, 0, 255), 3)
    return cv2.imencode(".jpg", image)[1].tobytes()


def _seed(sink: EventSink, count: int, places: bool = False) -> None:
    """`count` pending parking events of the kerb: one case (its repeats, one review item), or with
    `places` one zone and case each (`count` review items)."""
    now = time.time()
    for n in range(count):
        sink.record(
            EventRecord(
                uid=str(uuid.uuid4()),
                type="illegal_parking",
                camera_id="campus-road",
                rule_id="kerb-no-parking",
                zone_id=f"kerb-{n}" if places else "kerb",
                label="car",
                track_id=n + 1,
                first_seen_s=10.0 * n,
                triggered_s=10.0 * n + 20,
                score=0.8,
                box=(40.0, 60.0, 200.0, 180.0),
                occurred_wall_s=now - 60 * (count - n),
                images={"entry": _jpeg(n), "trigger": _jpeg(n + 1)},
            )
        )


def test_alert_to_closed_case_and_flood_mode(console_page, tmp_path: Path) -> None:
    page = console_page
    data = _config(tmp_path)
    tokens = _users(data["storage"]["database_url"])
    with CitywatchProcess(write_config(tmp_path, data), tmp_path / "run.log") as server:
        try:
            _work_an_alert_to_closure(page, server, tokens)
        finally:
            page.goto("about:blank")  # close the live stream before the server stops


def _work_an_alert_to_closure(page, server, tokens) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, server.base, tokens["admin"])
    page.wait_for_selector("#event-list")
    page.evaluate("window.__notReloaded = true")
    row = page.wait_for_selector(".event-row", timeout=45_000)  # pushed live during the replay
    assert page.evaluate("window.__notReloaded") is True
    event_id = int(row.get_attribute("data-id"))
    page.wait_for_selector("#evidence-big[src]")
    page.wait_for_timeout(400)
    screenshot(page, "queue")
    page.keyboard.press("c")
    page.wait_for_selector(f'.event-row[data-id="{event_id}"]', state="detached")
    event = httpx.get(f"{server.base}/api/events/{event_id}", headers=_bearer(tokens["admin"])).json()
    assert event["review_status"] == "confirmed" and event["case_id"]
    case_id = event["case_id"]

    page.click('a[href="#/cases"]')
    page.click(f'.case-card[data-id="{case_id}"]')
    page.wait_for_selector('#case-status[data-status="registered"]')
    page.click("#btn-dispatched")
    # the configured teams (names in one language), and the rule's time allowed as the default
    options = page.eval_on_selector_all("#f-team option", "els => els.map((e) => e.value)")
    assert options == [team.name for team in default_teams()], options
    case = httpx.get(f"{server.base}/api/cases/{case_id}", headers=_bearer(tokens["admin"])).json()
    assert page.input_value("#f-hours") == f"{case['deadline_h']:g}"
    page.select_option("#f-team", index=1)
    page.click("#dialog-ok")
    page.wait_for_selector('#case-status[data-status="dispatched"]')
    page.click("#btn-handled")
    page.fill("#f-note", "车辆已驶离，已告知司机")
    page.set_input_files("#f-photos", str(DOG))  # the team's on-site photo
    page.click("#dialog-ok")
    page.wait_for_selector('#case-status[data-status="handled"]')
    page.wait_for_selector("#audit .attachments img.photo[src]")  # uploaded, cited, shown back
    page.click("#btn-verified")
    page.click("#dialog-ok")
    page.wait_for_selector('#case-status[data-status="verified"]')
    page.click("#btn-closed")
    page.click("#dialog-ok")
    page.wait_for_selector('#case-status[data-status="closed"]')
    assert page.inner_text("#btn-dispatched").strip() == "重新打开"  # a closed case can only be reopened
    trail = page.inner_text("#audit")
    for step in ("已立案", "已派遣", "已处置", "已核查", "已结案", "车辆已驶离", "zhang.wei"):
        assert step in trail, step
    page.wait_for_selector(".photos img[src]")
    screenshot(page, "case")

    page.click('a[href="#/cameras"]')
    page.wait_for_selector('.tile[data-id="campus-road"] .shot img[src]')
    assert page.inner_text(".tile .groups-tag") == "防汛"
    page.click("#mode")
    page.click("#dialog-ok")
    page.wait_for_selector('#mode-banner[data-mode="flood"]')
    assert "汛期模式" in page.inner_text("#mode")
    assert "zhang.wei" in page.inner_text("#mode-banner")
    page.click('.tile[data-id="campus-road"]')
    page.wait_for_selector('#camera-page svg polygon[data-zone="kerb"]')  # zones drawn on the latest frame
    assert "运行位置" in page.inner_text("#camera-page") and "本机进程" in page.inner_text("#camera-page")  # placement
    page.go_back()
    page.wait_for_selector("#wall")
    page.click('.chip[data-group="flood"]')
    page.wait_for_selector('.tile[data-id="campus-road"] .shot img[src]')
    page.wait_for_timeout(300)
    screenshot(page, "cameras")

    page.click('a[href="#/stats"]')
    page.wait_for_selector("#kpi-ontime")
    assert page.inner_text("#kpi-ontime") == "100%"


def _uptime_history() -> UptimeTracker:
    """An uptime tracker that has watched three cameras for 100 minutes (one flaky, one often down)."""
    minute = {"n": 0}

    def health() -> dict:
        n = minute["n"]
        online, stalled, offline = StreamState.ONLINE, StreamState.STALLED, StreamState.OFFLINE
        states = {
            "campus-road": online,
            "river-underpass": stalled if n % 9 == 0 else online,
            "market-east": offline if n % 3 == 0 else online,
        }
        return {camera_id: SimpleNamespace(state=state) for camera_id, state in states.items()}

    tracker = UptimeTracker(health)
    for n in range(100):
        minute["n"] = n
        tracker.sample(60.0)
    return tracker


def _seeded(tmp_path: Path, places: bool):  # type: ignore[no-untyped-def]
    """An API (no pipeline) with ten pending parking events (see `_seed`) and three users."""
    data = _config(tmp_path)
    config = CitywatchConfig.model_validate(data)
    tokens = _users(config.storage.database_url)
    database = open_database(config.storage.database_url)
    register_cameras(database, config.cameras)
    app = create_app(config, database)
    sink = EventSink(database, config.storage.evidence_dir, cameras=config.cameras)
    attach_pipeline(app, sink=sink)
    app.state.context.uptime = _uptime_history()
    _seed(sink, 10, places=places)
    with ThreadServer(app) as server:
        yield server, tokens, database
    database.dispose()


@pytest.fixture()
def seeded(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Ten pending events of one case (its repeats: one review item)."""
    yield from _seeded(tmp_path, places=False)


@pytest.fixture()
def seeded_places(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Ten pending events in ten places: ten cases, ten review items."""
    yield from _seeded(tmp_path, places=True)


def test_viewer_sees_no_actions_and_api_refuses(seeded_places, console_page) -> None:  # type: ignore[no-untyped-def]
    page = console_page
    server, tokens, _ = seeded_places
    sign_in(page, server.base, tokens["viewer"])
    page.wait_for_selector(".event-row")
    assert "只读" in page.inner_text("#user")
    assert page.locator("#btn-confirm").count() == 0 and page.locator("#btn-reject").count() == 0
    page.keyboard.press("c")
    page.keyboard.press("r")
    assert page.locator("dialog[open]").count() == 0
    assert page.locator(".event-row").count() == 10  # nothing was reviewed
    assert page.is_disabled("#mode")
    page.click("#lang")  # English switch
    page.wait_for_selector("text=Alerts")
    assert "viewer" in page.inner_text("#user")
    page.click("#lang")
    page.wait_for_selector("text=告警")
    viewer = _bearer(tokens["viewer"])
    event_id = int(page.get_attribute(".event-row", "data-id"))
    assert (
        httpx.post(
            f"{server.base}/api/events/{event_id}/review", json={"action": "confirm"}, headers=viewer
        ).status_code
        == 403
    )
    admin = _bearer(tokens["admin"])
    response = httpx.post(f"{server.base}/api/events/{event_id}/review", json={"action": "confirm"}, headers=admin)
    assert response.status_code == 200
    case_id = response.json()["case"]["id"]
    page.goto(f"{server.base}/#/case/{case_id}")
    page.wait_for_selector("#case-page")
    assert page.locator(".case-actions button").count() == 0
    assert (
        httpx.post(
            f"{server.base}/api/cases/{case_id}/transitions", json={"to": "dispatched", "team": "x"}, headers=viewer
        ).status_code
        == 403
    )
    assert httpx.put(f"{server.base}/api/mode", json={"mode": "flood"}, headers=viewer).status_code == 403


def test_ten_alerts_reviewed_with_the_keyboard_only(seeded_places, console_page) -> None:  # type: ignore[no-untyped-def]
    page = console_page
    server, tokens, _ = seeded_places
    sign_in(page, server.base, tokens["operator"])
    page.wait_for_selector(".event-row")
    assert page.locator(".event-row").count() == 10
    first = page.get_attribute(".event-row.selected", "data-id")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    second = page.get_attribute(".event-row.selected", "data-id")
    assert second != first
    page.keyboard.press("k")
    assert page.get_attribute(".event-row.selected", "data-id") == first
    page.keyboard.press("o")
    page.wait_for_selector("#viewer[open]")
    page.keyboard.press("Escape")
    page.wait_for_selector("#viewer", state="detached")
    for n in range(10):
        remaining = 10 - n
        deadline = time.monotonic() + 15  # polled here: wait_for_function evaluates a string, which the CSP forbids
        while page.locator(".event-row").count() != remaining:
            assert time.monotonic() < deadline, f"expected {remaining} alerts"
            time.sleep(0.05)
        if n % 2 == 0:
            page.keyboard.press("c")
        else:
            page.keyboard.press("r")
            page.wait_for_selector("#dialog[open]")
            page.keyboard.press("3")
            page.keyboard.press("Enter")
    page.wait_for_selector(".detail.empty")
    operator = _bearer(tokens["operator"])
    events = httpx.get(f"{server.base}/api/events", params={"limit": 50}, headers=operator).json()["items"]
    statuses = sorted(e["review_status"] for e in events)
    assert statuses == ["confirmed"] * 5 + ["rejected"] * 5
    reasons = {e["review_reason"] for e in events if e["review_status"] == "rejected"}
    assert reasons == {"不在禁停区域内"}
    assert re.search(r"\d", page.inner_text("#nav")) is None  # the pending badge is gone


def _history(database, days: int = 14) -> None:  # type: ignore[no-untyped-def]
    """Cases of the last two weeks over three types and three districts, some closed late."""
    now = datetime.now(UTC)
    kinds = [
        ("illegal_parking", "新华区", "光明路街道"),
        ("litter", "长安区", "建设街道"),
        ("illegal_parking", "桥西区", "振头街道"),
        ("waterlogging", "新华区", "滨河街道"),
    ]
    with database.session() as session:
        for n in range(60):
            kind, district, street = kinds[(n * 7) % len(kinds)]
            created = now - timedelta(days=(n * 5) % days, hours=n % 9)
            deadline = created + timedelta(hours=4)
            closed = n % 5 != 0
            handled = created + timedelta(hours=2 if n % 6 else 6)
            session.add(
                Case(
                    type=kind,
                    status="closed" if closed else "dispatched",
                    priority="normal",
                    source="camera",
                    camera_id="campus-road",
                    location=street,
                    district=district,
                    street=street,
                    description="history",
                    team="第一中队",
                    deadline=deadline,
                    deadline_h=4.0,
                    event_count=1,
                    created_at=created,
                    updated_at=handled,
                    registered_at=created,
                    dispatched_at=created,
                    handled_at=handled if closed else None,
                    verified_at=handled if closed else None,
                    closed_at=handled if closed else None,
                )
            )


def test_statistics_page(seeded, console_page) -> None:  # type: ignore[no-untyped-def]
    page = console_page
    server, tokens, database = seeded
    _history(database)
    sign_in(page, server.base, tokens["viewer"])
    page.click('a[href="#/stats"]')
    page.wait_for_selector("#chart-uptime")
    assert page.inner_text("#kpi-total") == "61"  # and the case the ten seeded events opened
    assert page.inner_text("#kpi-ontime") == "83%"  # 40 of 48 closed cases were handled in time
    page.wait_for_timeout(300)
    screenshot(page, "stats")


def test_hotline_intake_and_board_filters(seeded, console_page) -> None:  # type: ignore[no-untyped-def]
    """A 12345 call typed in by an operator becomes a registered case; the board's columns count
    from the API and filter by district, type and overdue."""
    page = console_page
    server, tokens, _ = seeded
    sign_in(page, server.base, tokens["operator"])
    page.click('a[href="#/cases"]')
    page.wait_for_selector('#board .column[data-status="new"] .case-card')  # the ten alerts' one case
    assert page.inner_text('#board .column[data-status="new"] .count') == "1"

    page.click("#btn-hotline")
    page.fill("#f-ticket", "12345-20261128-0042")
    page.select_option("#f-type", "litter")
    page.fill("#f-location", "东市场北门")
    page.select_option("#f-district", "新华区")
    page.fill("#f-street", "东关街道")
    page.select_option("#f-camera", "market-east")
    page.fill("#f-description", "市民反映北门口垃圾堆放三天未清运")
    page.click("#dialog-ok")
    page.wait_for_selector('#case-status[data-status="registered"]')
    case_id = int(page.evaluate("location.hash").rsplit("/", 1)[1])
    created = httpx.get(f"{server.base}/api/cases/{case_id}", headers=_bearer(tokens["viewer"])).json()
    assert (created["source"], created["type"]) == ("hotline", "litter")
    assert created["hotline_ticket"] == "12345-20261128-0042"
    assert (created["district"], created["street"], created["camera_id"]) == ("新华区", "东关街道", "market-east")
    assert "wang.li" in page.inner_text("#audit")

    page.click('a[href="#/cases"]')
    page.wait_for_selector(f'#board .column[data-status="registered"] .case-card[data-id="{case_id}"]')
    assert "12345-20261128-0042" in page.inner_text(f'.case-card[data-id="{case_id}"]')
    screenshot(page, "board")
    page.select_option("#board-type", "litter")
    page.wait_for_selector('#board .column[data-status="new"] .case-card', state="detached")
    assert page.locator("#board .case-card").count() == 1
    page.check("#board-overdue")
    page.wait_for_selector("#board .case-card", state="detached")  # nothing is overdue yet
    page.uncheck("#board-overdue")
    page.select_option("#board-type", "")
    page.wait_for_selector('#board .column[data-status="new"] .case-card')
    # the same ticket twice is refused, and the form says why
    page.guard.allow_status("/api/cases", 409)
    page.click("#btn-hotline")
    page.fill("#f-ticket", "12345-20261128-0042")
    page.fill("#f-location", "x")
    page.fill("#f-description", "y")
    page.click("#dialog-ok")
    page.wait_for_selector(".toast.error")
    assert (
        httpx.get(f"{server.base}/api/cases", params={"source": "hotline"}, headers=_bearer(tokens["viewer"])).json()[
            "total"
        ]
        == 1
    )
