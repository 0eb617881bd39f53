"""The camera wall for hundreds of cameras (issue #17) in Debian's Chromium at 1920x1080.

A 350-camera city served by a runtime in the API's process: six cameras replay vtest.avi (their
last analysed frames are the thumbnails), four point at a closed port (offline) and the rest are
switched off, so the server starts in seconds and decodes six streams, not 350. The wall refreshes
only the visible tiles of its page (counted image requests: some, but far under 20 a second), pages,
splits 4/9/16, searches, filters by district, tours by itself, puts flood cameras first in flood
mode, shows the health counts per district the API gives, and goes full screen.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from citywatch.config import CitywatchConfig
from citywatch.domain.accounts import add_user
from citywatch.domain.db import open_database
from tests.browser.conftest import screenshot, sign_in
from tests.support import MODEL_DIR, VTEST, ThreadServer, running_app

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

CAMERAS = 350
PLAYING = 6  # cam000..cam005 replay vtest.avi
OFFLINE = 4  # cam006..cam009 point at a closed port
DISTRICTS = {
    "新华区": ["光明路街道", "革新街道", "东焦街道"],
    "长安区": ["建北街道", "育才街道", "谈固街道"],
    "桥西区": ["友谊街道", "振头街道"],
    "裕华区": ["裕兴街道", "建通街道", "槐底街道"],
    "开发区": ["天山街道", "长江街道"],
}
FLOOD = {f"cam{n:03d}" for n in range(200, 206)}  # the flood group, deep in the list
UNIQUE = ("cam123", "滨河路下穿隧道")  # one camera with a name to search for


def _camera(n: int) -> dict:
    district = list(DISTRICTS)[n % len(DISTRICTS)]
    streets = DISTRICTS[district]
    street = streets[(n // len(DISTRICTS)) % len(streets)]
    camera_id = f"cam{n:03d}"
    camera: dict = {
        "id": camera_id,
        "name": UNIQUE[1] if camera_id == UNIQUE[0] else f"{street}{n:03d}号点位",
        "district": district,
        "street": street,
        "url": f"rtsp://127.0.0.1:9/{camera_id}",
        "enabled": PLAYING <= n < PLAYING + OFFLINE,
        "groups": ["flood"] if camera_id in FLOOD else [],
    }
    if n < PLAYING:  # a file camera: its frames are analysed (no rules: the detector stays idle)
        camera.update(url=str(VTEST), enabled=True, analysis_fps=1, replay={"speed": "realtime", "loop": True})
    return camera


def _config(tmp: Path) -> CitywatchConfig:
    return CitywatchConfig.model_validate(
        {
            "detector": {"model": "yolox_nano.onnx", "model_dirs": [str(MODEL_DIR)], "threads": 1},
            "storage": {"database_url": f"sqlite:///{tmp / 'citywatch.db'}", "evidence_dir": str(tmp / "evidence")},
            "api": {"anonymous_read": False},
            "modes": {
                "normal": {"description": "常态：全部规则"},
                "flood": {"description": "汛期：防汛分组优先", "groups": {"flood": {"priority": "high"}}},
            },
            "cameras": [_camera(n) for n in range(CAMERAS)],
        }
    )


@dataclass
class Wall:
    base: str
    token: str  # an operator's (may switch the mode)

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.base + path, headers={"Authorization": f"Bearer {self.token}"}, timeout=10)


def _bucket(camera: dict) -> str:
    """The wall's health buckets, from the API's camera list."""
    if not camera["enabled"]:
        return "stopped"
    state = (camera.get("health") or {}).get("state")
    return "online" if state in ("online", "running") else "stalled" if state == "stalled" else "offline"


def _health(cameras: list[dict]) -> dict[str, dict[str, int]]:
    counts: dict[str, Counter] = {}
    for camera in cameras:
        counts.setdefault(camera["district"], Counter())[_bucket(camera)] += 1
        counts.setdefault("*", Counter())[_bucket(camera)] += 1
    return {d: {b: c[b] for b in ("online", "stalled", "offline", "stopped")} for d, c in counts.items()}


@pytest.fixture(scope="module")
def wall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wall]:
    tmp = tmp_path_factory.mktemp("wall-browser")
    config = _config(tmp)
    database = open_database(config.storage.database_url)
    with database.session() as session:
        token = add_user(session, "li.duty", "operator")
    database.dispose()
    with running_app(config) as (app, _runtime, _viewer), ThreadServer(app) as server:
        served = Wall(server.base, token)
        deadline = time.monotonic() + 30
        while True:  # the six file cameras analyse frames, the four unreachable ones are offline
            cameras = served.get("/api/cameras").json()
            states = Counter(_bucket(c) for c in cameras)
            if states["online"] == PLAYING and states["offline"] == OFFLINE:
                break
            assert time.monotonic() < deadline, f"cameras did not settle: {states}"
            time.sleep(0.5)
        yield served


def _tile_ids(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.eval_on_selector_all("#wall .tile", "els => els.map((e) => e.dataset.id)")


def _page_health(page) -> dict:  # type: ignore[no-untyped-def]
    """The wall's health counts: district ("*" for all) to {bucket: count}."""
    return page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('#wall-health .wall-health-row')].map((row) =>
          [row.dataset.district, Object.fromEntries([...row.querySelectorAll('[data-bucket]')]
            .map((c) => [c.dataset.bucket, Number(c.dataset.count)]))]))"""
    )


#: The wall's visible text and the titles, placeholders and labels of visible elements.
TEXTS_JS = """() => {
  const shown = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
  const texts = [document.querySelector("#main").innerText];
  for (const el of document.querySelectorAll("#main [title], #main [placeholder], #main [aria-label]")) {
    if (shown(el)) texts.push(el.title, el.placeholder || "", el.getAttribute("aria-label") || "");
  }
  return texts;
}"""


def _english(page) -> list[str]:  # type: ignore[no-untyped-def]
    """Latin-letter words on the wall (units such as fps and key names such as Esc aside)."""
    words = (w for text in page.evaluate(TEXTS_JS) for w in re.findall(r"[A-Za-z][A-Za-z0-9_-]+", text))
    return [w for w in words if w not in {"fps", "Esc"}]


def _open(page, wall: Wall) -> None:  # type: ignore[no-untyped-def]
    page.set_viewport_size({"width": 1920, "height": 1080})
    sign_in(page, wall.base, wall.token)
    page.goto(f"{wall.base}/#/cameras")
    page.wait_for_selector("#wall .tile")


def test_a_350_camera_wall_pages_searches_filters_and_refreshes_only_what_is_seen(wall: Wall, console_page) -> None:  # type: ignore[no-untyped-def]
    page = console_page
    _open(page, wall)
    page.click('.split-choice[data-split="16"]')
    page.wait_for_selector('#wall[data-split="16"]')
    assert page.locator("#wall .tile").count() == 16
    assert page.inner_text("#split-page") == f"1 / {math.ceil(CAMERAS / 16)}"
    assert page.get_attribute("#wall-count", "data-count") == str(CAMERAS)
    first = _tile_ids(page)
    assert first[:PLAYING] == [f"cam{n:03d}" for n in range(PLAYING)]
    page.wait_for_selector('.tile[data-id="cam000"] .shot img[src]')
    assert page.inner_text('.tile[data-id="cam000"] .tile-name') == "光明路街道000号点位"  # names, not ids
    assert not _english(page), _english(page)  # all in Chinese, no raw ids

    # only the visible tiles of this page refresh, now and then: some requests, far under 20 a second
    requests: list[str] = []
    page.on(
        "request",
        lambda r: requests.append(urlsplit(r.url).path) if r.url.split("?")[0].endswith("/latest.jpg") else None,
    )
    page.wait_for_timeout(10_000)
    rate = len(requests) / 10
    assert 0 < rate < 20, (len(requests), requests[:40])
    asked = {path.split("/")[3] for path in requests}
    assert asked <= set(first[:PLAYING]), asked  # only the page's cameras that have a picture
    # a hidden document (another tab in front) asks for none; headless Chromium keeps its one page
    # visible, so the page is told it is hidden the way the browser tells it (visibilityState + event)
    page.evaluate(
        "() => { Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});"
        " document.dispatchEvent(new Event('visibilitychange')); }"
    )
    requests.clear()
    page.wait_for_timeout(6_000)
    assert requests == []
    page.evaluate("() => { delete document.visibilityState; document.dispatchEvent(new Event('visibilitychange')); }")
    page.wait_for_timeout(1_500)
    assert requests, "visible again: the page's tiles refresh again"

    page.keyboard.press("ArrowRight")  # keyboard paging: the next page shows other cameras
    page.wait_for_selector('#split-page[data-page="1"]')
    second = _tile_ids(page)
    assert len(second) == 16 and not set(second) & set(first)
    page.click("#split-next")
    page.wait_for_selector('#split-page[data-page="2"]')
    assert _tile_ids(page)[0] == "cam032"
    page.click("#split-prev")
    page.wait_for_selector('#split-page[data-page="1"]')

    for split in (4, 9):  # the split changes the tiles a page, and is remembered
        page.click(f'.split-choice[data-split="{split}"]')
        page.wait_for_selector(f'#wall[data-split="{split}"]')
        assert page.locator("#wall .tile").count() == split
        assert page.inner_text("#split-page") == f"1 / {math.ceil(CAMERAS / split)}"
    assert '"split":9' in page.evaluate("localStorage.getItem('cw.wall')")

    page.fill("#wall-search", "滨河路下穿")  # search by name narrows to the one camera
    page.wait_for_selector('#wall-count[data-count="1"]')
    assert _tile_ids(page) == [UNIQUE[0]]
    assert page.inner_text("#split-page") == "1 / 1"
    page.fill("#wall-search", "cam34")  # by id: cam340..cam349
    page.wait_for_selector('#wall-count[data-count="10"]')
    assert page.inner_text("#split-page") == "1 / 2"
    page.fill("#wall-search", "")
    page.wait_for_selector(f'#wall-count[data-count="{CAMERAS}"]')

    page.select_option("#wall-district", "桥西区")  # district grouping: only its cameras
    expected = [f"cam{n:03d}" for n in range(CAMERAS) if n % len(DISTRICTS) == 2]
    page.wait_for_selector(f'#wall-count[data-count="{len(expected)}"]')
    assert _tile_ids(page) == expected[:9]
    page.select_option("#wall-street", "振头街道")  # and a street in it
    streets = [c for c in expected if _camera(int(c[3:]))["street"] == "振头街道"]
    page.wait_for_selector(f'#wall-count[data-count="{len(streets)}"]')
    assert set(_tile_ids(page)) <= set(streets)
    page.select_option("#wall-district", "")
    page.click('.chip[data-group="flood"]')  # the group picker
    page.wait_for_selector(f'#wall-count[data-count="{len(FLOOD)}"]')
    assert set(_tile_ids(page)) == FLOOD
    assert page.inner_text('.tile[data-id="cam200"] .groups-tag') == "防汛"
    screenshot(page, "wall-350")  # (the page of thumbnails full screen is wall-full)
    page.click('.chip[data-group=""]')
    page.wait_for_selector(f'#wall-count[data-count="{CAMERAS}"]')

    # health at a glance: per district, what the API's camera list says
    want = _health(wall.get("/api/cameras").json())
    deadline = time.monotonic() + 10  # the page hears camera health every 3 s
    while (shown := _page_health(page)) != want and time.monotonic() < deadline:
        page.wait_for_timeout(500)
    assert shown == want
    assert want["*"] == {"online": PLAYING, "stalled": 0, "offline": OFFLINE, "stopped": CAMERAS - PLAYING - OFFLINE}
    assert "在线 6" in page.inner_text('#wall-health [data-district="*"]')


def test_the_wall_tours_puts_flood_cameras_first_and_goes_full_screen(wall: Wall, console_page) -> None:  # type: ignore[no-untyped-def]
    page = console_page
    _open(page, wall)
    page.click('.split-choice[data-split="16"]')
    page.wait_for_selector('#wall[data-split="16"]')

    page.select_option("#wall-tour-interval", "5")  # a tour: the page advances by itself
    page.click("#wall-tour")
    assert page.get_attribute("#wall-tour", "data-state") == "running"
    assert page.inner_text("#wall-tour") == "⏸ 暂停轮巡"
    page.wait_for_selector('#split-page[data-page="1"]', timeout=9_000)
    page.click("#wall-tour")  # paused: it stays
    assert page.get_attribute("#wall-tour", "data-state") == "paused"
    page.wait_for_timeout(5_500)
    assert page.get_attribute("#split-page", "data-page") == "1"
    page.keyboard.press("Home")
    page.wait_for_selector('#split-page[data-page="0"]')

    switched = httpx.put(
        wall.base + "/api/mode", json={"mode": "flood"}, headers={"Authorization": f"Bearer {wall.token}"}, timeout=10
    )
    assert switched.status_code == 200, switched.text
    try:  # flood mode: the flood group's cameras lead the wall
        page.wait_for_selector('#mode-banner[data-mode="flood"]', timeout=15_000)
        page.wait_for_function("() => document.querySelector('#wall .tile')?.dataset.id === 'cam200'")
        assert set(_tile_ids(page)[: len(FLOOD)]) == FLOOD
    finally:
        httpx.put(wall.base + "/api/mode", json={"mode": "normal"}, headers={"Authorization": f"Bearer {wall.token}"})

    page.click("#wall-fullscreen")  # the wall screen: no chrome, the page's 16 tiles fill 1920x1080
    page.wait_for_selector("body.wall-full")
    assert not page.is_visible("#topbar") and not page.is_visible("#wall-search")
    boxes = page.eval_on_selector_all("#wall .tile", "els => els.map((e) => e.getBoundingClientRect().toJSON())")
    assert len(boxes) == 16
    assert all(b["bottom"] <= 1080.5 and b["right"] <= 1920.5 for b in boxes), boxes[-1]
    assert min(b["width"] for b in boxes) > 400 and min(b["height"] for b in boxes) > 220
    screenshot(page, "wall-full")
    page.keyboard.press("Escape")
    page.wait_for_selector("body:not(.wall-full)")
    assert page.is_visible("#topbar")
