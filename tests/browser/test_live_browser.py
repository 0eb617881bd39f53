"""The console's live view in Debian's Chromium (Playwright), over the test RTSP server's H.264
camera read by a runtime in the API's process (the inline engine): the camera page plays the
camera live through Media Source Extensions (`currentTime` advances) and stays near the live edge
(`newest_s - (media_zero_s + currentTime)` under 3 s); the wall's 4-split view streams only the
tiles on screen (the server's viewer count and the page's open sockets), a page change closes
them, and leaving the wall closes all."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from citywatch.config import CitywatchConfig
from tests.browser.conftest import screenshot, sign_in
from tests.support import ThreadServer, demo_config_dict, running_app

pytestmark = [pytest.mark.browser, pytest.mark.rtsp, pytest.mark.timeout(120)]

VIDEO = "document.querySelector('#camera-live video')"
TILE_VIDEO = "document.querySelector('.split-tile[data-id=\"campus-road\"] video')"
#: Counts the page's open live sockets (a test-only wrapper of WebSocket, installed before the app loads).
COUNT_SOCKETS = """
(() => {
  const Native = window.WebSocket;
  window.__liveOpen = 0;
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(url, protocols);
      if (!String(url).includes("/live?")) return;
      let open = false;
      this.addEventListener("open", () => { open = true; window.__liveOpen += 1; });
      this.addEventListener("close", () => { if (open) window.__liveOpen -= 1; open = false; });
    }
  };
})();
"""


@dataclass(frozen=True)
class Live:
    base: str
    token: str

    def viewers(self) -> int:
        answer = httpx.get(f"{self.base}/api/live-video/stats", headers={"Authorization": f"Bearer {self.token}"})
        answer.raise_for_status()
        return int(answer.json()["cameras"].get("campus-road", {}).get("viewers", 0))

    def wait_viewers(self, expected: int, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while (seen := self.viewers()) != expected:
            assert time.monotonic() < deadline, f"{seen} live viewers of campus-road, expected {expected}"
            time.sleep(0.2)


def _off(camera_id: str) -> dict:
    """A camera that is switched off: a tile that never streams."""
    return {"id": camera_id, "name": camera_id, "url": f"rtsp://127.0.0.1:9/{camera_id}", "enabled": False}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, campus_rtsp: str, model_dir: Path) -> Iterator[Live]:
    """The campus camera (H.264 over RTSP) read in the app's process, four cameras switched off
    (so the 4-split wall has two pages, campus-road the last tile of the first), a viewer's token."""
    tmp = tmp_path_factory.mktemp("live-browser")
    data = demo_config_dict(tmp, url=campus_rtsp, rules=[])  # the demo zones (kerb), drawn over the live video
    data["cameras"] = [_off("off-1"), _off("off-2"), _off("off-3"), data["cameras"][0], _off("off-4")]
    data["api"] = {"anonymous_read": False}
    config = CitywatchConfig.model_validate(data)
    with running_app(config) as (app, _runtime, token), ThreadServer(app) as server:
        served = Live(server.base, token)
        deadline = time.monotonic() + 30
        while served.viewers() != 0 or not _running(server.base, token):
            assert time.monotonic() < deadline, "campus-road did not start reading"
            time.sleep(0.3)
        yield served


def _running(base: str, token: str) -> bool:
    camera = httpx.get(f"{base}/api/cameras/campus-road", headers={"Authorization": f"Bearer {token}"}).json()
    return (camera.get("health") or {}).get("state") in ("running", "online")


def _latency(page) -> dict:  # type: ignore[no-untyped-def]
    return page.evaluate(
        f"() => {{ const v = {VIDEO};"
        " const zero = parseFloat(v.dataset.mediaZero), newest = parseFloat(v.dataset.newest);"
        " return {t: v.currentTime, latency: newest - (zero + v.currentTime), error: v.error && v.error.code}; }"
    )


def test_the_camera_page_plays_live_near_the_live_edge(live: Live, console_page) -> None:  # type: ignore[no-untyped-def]
    page = console_page
    if importlib.util.find_spec("api.routes.recordings") is None:  # the timeline fails soft without its route
        page.guard.allow_status("/api/cameras/campus-road/recordings", 404)
    sign_in(page, live.base, live.token)
    page.goto(f"{live.base}/#/camera/campus-road")
    page.wait_for_selector('#camera-view[data-view="live"]')  # live by default: the camera is healthy
    assert page.inner_text('.live-toggle[data-view="live"]') == "实时"
    page.wait_for_selector("#camera-timeline")  # the recordings timeline is mounted (it fails soft)
    page.wait_for_function(
        f"() => {VIDEO} && {VIDEO}.currentTime > 0.3 && {VIDEO}.dataset.newest && {VIDEO}.dataset.mediaZero",
        timeout=30_000,
    )
    first = _latency(page)
    page.wait_for_timeout(2_000)
    second = _latency(page)
    assert first["error"] is None and second["error"] is None
    assert second["t"] - first["t"] > 1.0, (first, second)  # it plays
    for sample in (first, second):
        # near the live edge (newest_s comes about once a second, so it may trail the player by ~1 s)
        assert -1.5 < sample["latency"] < 3.0, sample
    live.wait_viewers(1)
    # the camera's zones are drawn over the live picture, in its own pixels, scaled like it
    page.wait_for_selector('#camera-live .live-view svg.zones polygon[data-zone="kerb"]', state="attached")
    view_box = page.get_attribute("#camera-live .live-view svg.zones", "viewBox")
    size = page.evaluate(f"() => [{VIDEO}.videoWidth, {VIDEO}.videoHeight]")
    assert view_box == f"0 0 {size[0]} {size[1]}", (view_box, size)
    screenshot(page, "camera-live")

    page.click('.live-toggle[data-view="still"]')  # the still frame closes the socket
    page.wait_for_selector("#camera-still", state="visible")
    assert page.locator("#camera-live video").count() == 0
    live.wait_viewers(0)
    page.click('.live-toggle[data-view="live"]')
    page.wait_for_function(f"() => {VIDEO} && {VIDEO}.currentTime > 0.3", timeout=30_000)
    page.click('a[href="#/cameras"]')  # leaving the page closes it too
    page.wait_for_selector("#wall-modes")
    live.wait_viewers(0)


def test_the_split_wall_streams_only_the_tiles_on_screen(live: Live, console_page) -> None:  # type: ignore[no-untyped-def]
    page = console_page
    page.set_viewport_size({"width": 1280, "height": 520})  # the 4-split's second row is below the fold
    page.add_init_script(COUNT_SOCKETS)
    sign_in(page, live.base, live.token)
    page.goto(f"{live.base}/#/cameras")
    page.wait_for_selector("#wall .tile")  # the thumbnail wall stays the default
    page.click('.wall-mode[data-mode="split"]')
    page.click('.split-choice[data-split="4"]')
    page.wait_for_selector('#split-grid[data-split="4"]')
    assert page.locator(".split-tile").count() == 4
    assert page.inner_text("#split-page") == "1 / 2"
    tile = page.locator('.split-tile[data-id="campus-road"]')
    assert not _on_screen(page, "campus-road")
    page.wait_for_timeout(1_500)
    assert live.viewers() == 0 and page.evaluate("window.__liveOpen") == 0  # off screen: no socket
    assert tile.locator("video").count() == 0

    tile.scroll_into_view_if_needed()
    page.wait_for_function(f"() => {{ const v = {TILE_VIDEO}; return v && v.currentTime > 0.3; }}", timeout=30_000)
    live.wait_viewers(1)
    assert page.evaluate("window.__liveOpen") == 1  # the switched-off tiles never open one
    screenshot(page, "wall-split")

    page.evaluate("window.scrollTo(0, 0)")  # back out of view: closed
    live.wait_viewers(0)
    page.wait_for_function("() => window.__liveOpen === 0")

    tile.scroll_into_view_if_needed()
    live.wait_viewers(1)
    page.click("#split-next")  # another page: the previous page's players close
    page.wait_for_selector('#split-page[data-page="1"]')
    assert page.locator(".split-tile").count() == 1
    live.wait_viewers(0)
    page.click("#split-prev")
    page.wait_for_selector('.split-tile[data-id="campus-road"]')
    page.locator('.split-tile[data-id="campus-road"]').scroll_into_view_if_needed()
    live.wait_viewers(1)
    page.click('a[href="#/queue"]')  # leaving the wall closes all
    live.wait_viewers(0)
    page.wait_for_function("() => window.__liveOpen === 0")


def _on_screen(page, camera_id: str) -> bool:  # type: ignore[no-untyped-def]
    return page.evaluate(
        f"() => {{ const r = document.querySelector('.split-tile[data-id=\"{camera_id}\"]').getBoundingClientRect();"
        " return r.top < innerHeight && r.bottom > 0; }"
    )
