"""The map page (一张图, issue #17) in Debian's Chromium: the cameras' markers on the demo's map image
(Leaflet, vendored: no request off localhost), a click on a camera opens its camera page, a click on
an open case's marker opens the case (an event recorded through the real sink makes the case), the
layer toggle hides the cases, a new case appears while the page is open; cameras close together
are one cluster until zoomed in; with local tiles, the
tiles come from the folder through the API; with no map configured, the cameras stand on a plain
schematic."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from tests.browser.conftest import screenshot, sign_in
from tests.ledger_support import Ledger, make_ledger
from tests.support import REPO, ThreadServer, demo_config_dict
from tests.test_map_api import PNG

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

DEMO_MAP = {
    "title": "新华区一张图",
    "image": {
        "path": str(REPO / "configs" / "maps" / "demo-city.svg"),
        "width": 1200,
        "height": 800,
        "bounds": {"south": 38.04, "west": 114.455, "north": 38.056, "east": 114.485},
    },
}


def map_ledger(tmp_path: Path, map_section: dict[str, Any] | None) -> Ledger:
    cameras = demo_config_dict(tmp_path)["cameras"]
    cameras[0].update(name="光明路校园路口", position={"lat": 38.04876, "lon": 114.46675})
    url = cameras[0]["url"]
    cameras.append({"id": "lot-east", "name": "体育中心停车场东区", "district": "新华区", "url": url,
                    "position": {"lat": 38.0466, "lon": 114.4785}})  # fmt: skip
    cameras.append({"id": "no-place", "name": "未标注点位", "url": url})
    extra: dict[str, Any] = {"cameras": cameras}
    if map_section is not None:
        extra["map"] = map_section
    return make_ledger(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", extra=extra)


def test_markers_open_the_camera_and_the_case(tmp_path: Path, console_page) -> None:  # type: ignore[no-untyped-def]
    ledger = map_ledger(tmp_path, DEMO_MAP)
    try:
        case_id = ledger.event()["case_id"]
        lot_cases = sorted(  # two open cases at one camera: one badge counting 2, a list to choose from
            ledger.event(camera="lot-east", zone="lane", type_=type_, rule=f"lane-{type_}")["case_id"]
            for type_ in ("illegal_parking", "litter")
        )
        assert len(set(lot_cases)) == 2
        with ThreadServer(create_app(ledger.config, ledger.database)) as server:
            case = httpx.get(f"{server.base}/api/cases/{case_id}", headers=ledger.auth("viewer")).json()
            assert case["camera_id"] == "campus-road"  # an open case at the placed camera
            page = console_page
            sign_in(page, server.base, ledger.tokens["operator"])
            page.click('#nav a[data-page="map"]')
            page.wait_for_selector('.map-cam[data-id="campus-road"]')
            page.wait_for_selector("img.map-image")
            assert page.eval_on_selector("img.map-image", "img => img.complete && img.naturalWidth > 0")
            assert sorted(page.eval_on_selector_all(".map-cam[data-id]", "els => els.map(e => e.dataset.id)")) == [
                "campus-road",
                "lot-east",
            ]
            assert "未标注点位" in page.inner_text("#map-unplaced")
            dot = page.locator('.map-cam[data-id="campus-road"]')  # no pipeline here: state unknown, grey
            assert dot.get_attribute("data-state") == "unknown" and "idle" in (dot.get_attribute("class") or "")
            assert page.locator("#map-schematic").count() == 0 and "null" not in page.inner_text(".map-page")
            badge = page.locator('.map-case[data-camera="campus-road"]')
            assert badge.inner_text() == "1" and badge.get_attribute("data-case") == str(case_id)
            assert page.inner_text("#map-case-total") == "3"
            assert page.inner_text('.map-case[data-camera="lot-east"]') == "2"
            assert page.locator("#map-legend .map-key").count() == 5
            assert page.get_attribute(".leaflet-control-zoom-in", "title") == "放大"  # Leaflet's own text in Chinese
            page.hover('.map-cam[data-id="lot-east"]')
            page.wait_for_selector(".leaflet-tooltip:has-text('体育中心停车场东区')")
            screenshot(page, "map")

            page.click('.map-cam[data-id="campus-road"]')
            page.wait_for_selector('#camera-page[data-id="campus-road"]')
            assert page.evaluate("location.hash") == "#/camera/campus-road"

            page.goto(f"{server.base}/#/map")
            page.click('.map-case[data-camera="campus-road"]')
            page.wait_for_selector(f'#case-page[data-id="{case_id}"]')
            assert page.evaluate("location.hash") == f"#/case/{case_id}"

            page.goto(f"{server.base}/#/map")
            page.click('.map-case[data-camera="lot-east"]')
            links = page.locator(".map-case-list a.map-case-link")
            links.first.wait_for()
            assert sorted(int(x) for x in links.evaluate_all("els => els.map(e => e.dataset.id)")) == lot_cases
            page.click(f'.map-case-list a.map-case-link[data-id="{lot_cases[1]}"]')
            page.wait_for_selector(f'#case-page[data-id="{lot_cases[1]}"]')

            page.goto(f"{server.base}/#/map")
            page.wait_for_selector('.map-case[data-camera="campus-road"]')
            page.wait_for_selector("#live.on")  # the live stream is there to tell the page
            ledger.event(type_="litter", rule="kerb-litter")  # a new case while the page is open: it redraws
            page.wait_for_selector('.map-case[data-camera="campus-road"][data-count="2"]')
            assert page.inner_text("#map-case-total") == "4"
            page.uncheck("#map-show-cases")
            page.wait_for_selector(".map-case[data-camera]", state="detached")
            assert page.locator(".map-cam[data-id]").count() == 2  # the cameras stay
            page.goto("about:blank")
    finally:
        ledger.sink.close()
        ledger.database.dispose()


def test_cameras_close_together_are_one_cluster_until_zoomed_in(tmp_path: Path, console_page) -> None:  # type: ignore[no-untyped-def]
    """Twenty cameras on one crossing (a few metres apart) are one cluster with their count, in
    the colour of the worst of them, until a click on it zooms in; their open cases add up on one
    badge; the camera far away stays its own dot."""
    cameras = demo_config_dict(tmp_path)["cameras"]
    url = cameras[0]["url"]

    def spot(i: int) -> dict[str, float]:  # a 5 x 4 grid about 2 m apart
        return {"lat": 38.0480 + 0.00002 * (i % 5), "lon": 114.4700 + 0.00002 * (i // 5)}

    crossing = [
        {"id": f"cross-{i:02d}", "name": f"中山路口{i + 1}号", "district": "新华区", "url": url, "position": spot(i)}
        for i in range(20)
    ]
    far = {"id": "far-east", "name": "东郊", "url": url, "position": {"lat": 38.0466, "lon": 114.4820}}
    ledger = make_ledger(
        tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", extra={"cameras": [*crossing, far], "map": DEMO_MAP}
    )
    try:
        for camera in ("cross-03", "cross-11"):
            ledger.event(camera=camera, zone="kerb", type_="illegal_parking", rule="kerb-no-parking")
        with ThreadServer(create_app(ledger.config, ledger.database)) as server:
            page = console_page
            sign_in(page, server.base, ledger.tokens["operator"])
            page.click('#nav a[data-page="map"]')
            cluster = page.locator('.map-cluster[data-count="20"]')
            cluster.wait_for()
            assert cluster.get_attribute("data-tone") == "idle" and cluster.inner_text() == "20"
            assert "20 摄像头" in (cluster.get_attribute("title") or "")
            assert page.locator(".map-cam[data-id]").evaluate_all("els => els.map(e => e.dataset.id)") == ["far-east"]
            assert page.inner_text('.map-cluster-cases[data-count="2"]') == "2"  # both cases on one badge
            assert page.inner_text("#map-case-total") == "2"
            cluster.click()  # zooms to the crossing: fewer cameras per cluster, or the dots themselves
            page.wait_for_function(
                "() => document.querySelectorAll('.map-cam[data-id^=\"cross-\"]').length > 0"
                " || [...document.querySelectorAll('.map-cluster')].some(e => Number(e.dataset.count) < 20)"
            )
            page.goto("about:blank")
    finally:
        ledger.sink.close()
        ledger.database.dispose()


def test_without_a_map_the_cameras_stand_on_a_schematic(tmp_path: Path, console_page) -> None:  # type: ignore[no-untyped-def]
    ledger = map_ledger(tmp_path, None)
    try:
        with ThreadServer(create_app(ledger.config, ledger.database)) as server:
            page = console_page
            sign_in(page, server.base, ledger.tokens["viewer"])
            page.goto(f"{server.base}/#/map")
            page.wait_for_selector('#map-canvas[data-kind="schematic"] .map-cam[data-id="lot-east"]')
            assert page.locator(".map-cam[data-id]").count() == 2
            assert page.locator("img.map-image").count() == 0  # no picture: the blank canvas
            assert page.is_visible("#map-schematic")  # says why the canvas is blank
            west = page.locator('.map-cam[data-id="campus-road"]').bounding_box()
            east = page.locator('.map-cam[data-id="lot-east"]').bounding_box()
            assert west and east and west["x"] < east["x"] and west["y"] < east["y"]  # placed by lon and lat
            page.click('.map-cam[data-id="lot-east"]')
            page.wait_for_selector('#camera-page[data-id="lot-east"]')
            page.goto("about:blank")
    finally:
        ledger.sink.close()
        ledger.database.dispose()


def test_local_tiles_carry_the_cameras(tmp_path: Path, console_page) -> None:  # type: ignore[no-untyped-def]
    zoom, (center_x, center_y) = 15, tile_of(38.0476, 114.4725, 15)
    for dx in range(-6, 7):  # more than a 1280x800 view needs at zoom 15: no tile is missing
        for dy in range(-5, 6):
            tile = tmp_path / "tiles" / str(zoom) / str(center_x + dx) / f"{center_y + dy}.png"
            tile.parent.mkdir(parents=True, exist_ok=True)
            tile.write_bytes(PNG)
    tiles = {"dir": str(tmp_path / "tiles"), "min_zoom": zoom, "max_zoom": zoom, "zoom": zoom,
             "center": {"lat": 38.0476, "lon": 114.4725}, "attribution": "演示瓦片"}  # fmt: skip
    ledger = map_ledger(tmp_path, {"tiles": tiles})
    try:
        with ThreadServer(create_app(ledger.config, ledger.database)) as server:
            page = console_page
            sign_in(page, server.base, ledger.tokens["viewer"])  # a token: the tiles ask with ?token=
            page.goto(f"{server.base}/#/map")
            page.wait_for_selector('#map-canvas[data-kind="tiles"] .map-cam[data-id="lot-east"]')
            page.wait_for_function("() => document.querySelectorAll('img.leaflet-tile-loaded').length >= 12")
            sources = page.eval_on_selector_all("img.leaflet-tile", "els => els.map(e => e.src)")
            assert all(f"/api/map/tiles/{zoom}/" in src and "token=" in src for src in sources)
            assert "演示瓦片" in page.inner_text(".leaflet-control-attribution")
            west = page.locator('.map-cam[data-id="campus-road"]').bounding_box()
            east = page.locator('.map-cam[data-id="lot-east"]').bounding_box()
            assert west and east and west["x"] < east["x"] and west["y"] < east["y"]
            page.goto("about:blank")
    finally:
        ledger.sink.close()
        ledger.database.dispose()


def tile_of(lat: float, lon: float, zoom: int) -> tuple[int, int]:
    """The Web Mercator tile (x, y) holding a point at `zoom`."""
    n = 2**zoom
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return int((lon + 180) / 360 * n), int(y)
