"""A walk through the whole console in zh-CN (issue #17), in Debian's Chromium: over a server with
real data (alerts, a case dispatched to a team, a vehicle seen twice by plate), every page in the
navigation as found at run time (so pages added later are walked too), the detail pages of a case,
a camera and a vehicle, and the dispatch, reject and mode-switch dialogs; any visible English word
or raw id (page text, title, placeholder and aria-label attributes) outside an allow-list of units,
formats and proper names fails the test, naming the page and the line.

`world` and `pages` are shared with test_screenshots_browser.py (the same pages, photographed).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import httpx
import pytest

from api.app import create_app
from citywatch.events import EventRecord
from tests.browser.conftest import sign_in
from tests.ledger_support import Ledger, make_ledger
from tests.support import KERB_ZONE, REPO, VTEST, ThreadServer, demo_config_dict

pytestmark = [pytest.mark.browser, pytest.mark.footage, pytest.mark.timeout(240)]

PLATE = {"text": "豫A12345", "color": "blue", "confidence": 0.93}
#: Units, formats and names that stay in Latin letters in a Chinese interface.
ALLOWED = {"km", "fps", "MP4", "CSV", "Excel", "JSON", "API", "ID", "EN", "JPEG", "RTSP", "GPU", "CPU", "IP", "Esc"}
#: Proper names and numbers, not words: a Chinese plate (豫A12345), an alert's short uid as the
#: audit trail quotes it (告警 f578adc1), a video source's URL or path. A shortcut key (one letter:
#: c / r / s / j / k) is let through below.
NAMES = re.compile(r"[\u4e00-\u9fff][A-Z][A-Z0-9]{4,6}|告警 [0-9a-f]{8}|\S+://\S+|(?<!\S)/\S+")
#: Pages another change is rebuilding right now (cameras.js / wall.js, map.js): their English is
#: reported as an expected failure until it lands; every other page must be clean. Empty it then.
BEING_REBUILT: set[str] = set()
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*")
#: The visible text of the page, and the title, placeholder and aria-label of visible elements.
TEXTS_JS = """() => {
  const shown = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
  const texts = [document.body.innerText, document.title];
  for (const el of document.querySelectorAll("[title], [placeholder], [aria-label]")) {
    if (!shown(el)) continue;
    for (const name of ["title", "placeholder", "aria-label"]) {
      if (el.getAttribute(name)) texts.push(el.getAttribute(name));
    }
  }
  return texts;
}"""


@dataclass
class World:
    """A served ledger with an alert queue, a dispatched and a registered case and a plated vehicle."""

    ledger: Ledger
    base: str
    pending_event: int
    dispatched_case: int
    registered_case: int
    camera: str
    plate: str


def _camera_config(tmp_path: Path) -> list[dict]:
    camera = demo_config_dict(tmp_path)["cameras"][0]
    camera["name"] = "光明路校园路口"
    camera["zones"] = [
        {"id": "kerb", "name": "路边禁停区", "polygon": KERB_ZONE},
        {"id": "lane", "name": "东侧车道", "polygon": KERB_ZONE},
        {"id": "corner", "name": "西北角", "polygon": KERB_ZONE},
    ]
    camera["rules"][0]["zones"] = ["kerb", "lane", "corner"]
    camera["position"] = {"lat": 38.04876, "lon": 114.46675}  # on the demo's map (configs/maps)
    other = {"id": "market-east", "name": "东市场北门", "district": "新华区", "street": "东关街道",
             "url": "rtsp://127.0.0.1:9/market-east", "enabled": False,
             "position": {"lat": 38.0466, "lon": 114.4785}}  # fmt: skip
    return [camera, other]


#: The demo's map image (configs/demo.yaml), so the map page shows the cameras on it.
DEMO_MAP = {
    "image": {
        "path": str(REPO / "configs" / "maps" / "demo-city.svg"),
        "width": 1200,
        "height": 800,
        "bounds": {"south": 38.0400, "west": 114.4550, "north": 38.0560, "east": 114.4850},
    }
}


def frame_jpeg(second: float) -> bytes:
    """A frame of vtest.avi (the van on the double yellow lines), at 320x240 JPEG: evidence that looks real."""
    capture = cv2.VideoCapture(str(VTEST))
    try:
        capture.set(cv2.CAP_PROP_POS_MSEC, second * 1000)
        ok, image = capture.read()
        assert ok, f"cannot read {VTEST}"
        small = cv2.resize(image, (320, 240), interpolation=cv2.INTER_AREA)  # keeps the screenshots small
        return cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()
    finally:
        capture.release()


def record(
    ledger: Ledger, zone: str, images: dict[str, bytes], plate: dict | None = None, at: float | None = None
) -> dict:
    """An illegal-parking alert on `zone` through the real sink (evidence files, row, case)."""
    return ledger.sink.record(
        EventRecord(
            uid=str(uuid.uuid4()), type="illegal_parking", camera_id="campus-road", rule_id="kerb-no-parking",
            zone_id=zone, label="truck", track_id=1, first_seen_s=0.5, triggered_s=20.5, score=0.86,
            box=(651.0, 42.6, 723.8, 97.1), occurred_wall_s=at if at is not None else time.time(), images=images,
            plate=plate,
        )
    )  # fmt: skip


@pytest.fixture()
def world(tmp_path: Path) -> Iterator[World]:
    ledger = make_ledger(
        tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", extra={"cameras": _camera_config(tmp_path), "map": DEMO_MAP}
    )
    try:
        yesterday = (datetime.now(UTC) - timedelta(days=1)).timestamp()
        images = {"entry": frame_jpeg(2.0), "middle": frame_jpeg(12.0), "trigger": frame_jpeg(22.0)}
        first = record(ledger, "kerb", images, plate=PLATE, at=yesterday)
        second = record(ledger, "lane", images, plate=PLATE)
        pending = record(ledger, "corner", images)
        with ThreadServer(create_app(ledger.config, ledger.database)) as server:
            operator = ledger.auth("operator")
            cases = []
            for event in (first, second):
                answer = httpx.post(
                    f"{server.base}/api/events/{event['id']}/review", json={"action": "confirm"}, headers=operator
                )
                answer.raise_for_status()
                cases.append(int(answer.json().get("case_id") or answer.json()["case"]["id"]))
            dispatched = httpx.post(
                f"{server.base}/api/cases/{cases[0]}/transitions",
                json={"to": "dispatched", "team": "第一中队"},
                headers=operator,
            )
            dispatched.raise_for_status()
            yield World(ledger, server.base, pending["id"], cases[0], cases[1], "campus-road", PLATE["text"])
    finally:
        ledger.sink.close()
        ledger.database.dispose()


def wait_drawn(page) -> None:  # type: ignore[no-untyped-def]
    """Wait until the page's main area is drawn (no 加载中…) and its late parts had a moment."""
    page.wait_for_function(
        "() => { const m = document.getElementById('main');"
        " return m.children.length && !m.innerText.includes('加载中'); }"
    )
    page.wait_for_timeout(600)


def pages(page, world: World) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(name, hash) of every page: the navigation's links shown now (to this role), then the detail pages."""
    found = page.eval_on_selector_all(
        "#nav a",
        "links => links.filter((a) => a.getClientRects().length).map((a) => [a.dataset.page, a.getAttribute('href')])",
    )
    assert len(found) >= 5, found
    return [
        *found,
        ("case", f"#/case/{world.dispatched_case}"),
        ("camera", f"#/camera/{world.camera}"),
        ("vehicle", f"#/vehicle/{world.plate}"),
    ]


def english(page, allowed: set[str]) -> list[str]:  # type: ignore[no-untyped-def]
    """The visible lines holding a Latin-letter word outside `allowed`."""
    leaks = []
    for text in page.evaluate(TEXTS_JS):
        for line in text.splitlines():
            words = [w for w in WORD.findall(NAMES.sub(" ", line)) if len(w) > 1 and w not in allowed]
            if words:
                leaks.append(f"{', '.join(words)}  «{line.strip()[:120]}»")
    return leaks


def open_dialog(page, leaks: list[str], where: str, allowed: set[str]) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector("dialog[open]")
    leaks.extend(f"{where}: {leak}" for leak in english(page, allowed))
    page.keyboard.press("Escape")
    page.wait_for_selector("dialog[open]", state="detached")


def test_every_page_and_dialog_is_in_chinese(world: World, console_page) -> None:  # type: ignore[no-untyped-def]
    page = console_page
    sign_in(page, world.base, world.ledger.tokens["admin"])
    allowed = ALLOWED | {f"{role}-1" for role in world.ledger.tokens}  # login names are proper names
    leaks: list[str] = []
    walked = []
    for name, target in pages(page, world):
        page.goto(f"{world.base}/{target}")
        wait_drawn(page)
        walked.append(name)
        leaks.extend(f"{name} ({target}): {leak}" for leak in english(page, allowed))
    assert {"queue", "cases", "cameras", "stats", "vehicles", "handover"} <= set(walked)

    page.click("#mode")
    open_dialog(page, leaks, "mode switch", allowed)
    page.goto(f"{world.base}/#/queue")
    page.wait_for_selector(f"#event-{world.pending_event}")
    page.click(f"#event-{world.pending_event}")
    page.click("#btn-reject")
    open_dialog(page, leaks, "reject", allowed)
    page.goto(f"{world.base}/#/case/{world.registered_case}")
    page.wait_for_selector("#btn-dispatched")
    page.click("#btn-dispatched")
    open_dialog(page, leaks, "dispatch", allowed)
    page.goto("about:blank")
    theirs = [leak for leak in leaks if leak.split(" ", 1)[0] in BEING_REBUILT]
    mine = [leak for leak in leaks if leak not in theirs]
    assert not mine, "English or raw ids in the zh-CN console:\n" + "\n".join(mine)
    if theirs:  # visible in the run, not hidden: the pages' owners are on them (issue #17)
        pytest.xfail("English on pages being rebuilt:\n" + "\n".join(theirs))
