"""The map over HTTP (issue #17), on a real SQLite database: the console config's map view, camera
positions in the camera list, the map image and local tiles served from the configured files only
(bounded, cached with an ETag, never a path outside the folder), and reads closed without a token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.routes import map as map_routes
from tests.ledger_support import Ledger, make_ledger
from tests.support import demo_config_dict

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="120" height="80"><rect width="120" height="80"/></svg>'
#: A 1x1 PNG, enough to stand in for a tile.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c63f8cfc0f01f0005"
    "0001ff89993d1d0000000049454e44ae426082"
)
BOUNDS = {"south": 38.04, "west": 114.455, "north": 38.056, "east": 114.485}


def ledger_with(tmp_path: Path, map_section: dict[str, Any] | None, **options: Any) -> Ledger:
    cameras = demo_config_dict(tmp_path)["cameras"]
    cameras[0]["position"] = {"lat": 38.04876, "lon": 114.46675}
    cameras.append({"id": "unplaced", "url": cameras[0]["url"], "name": "未标注"})
    extra: dict[str, Any] = {"cameras": cameras}
    if map_section is not None:
        extra["map"] = map_section
    return make_ledger(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", extra=extra, **options)


@pytest.fixture()
def image_ledger(tmp_path: Path) -> Iterator[Ledger]:
    image = tmp_path / "maps" / "city.svg"
    image.parent.mkdir()
    image.write_bytes(SVG)
    built = ledger_with(
        tmp_path, {"title": "新华区一张图", "image": {"path": str(image), "width": 120, "height": 80, "bounds": BOUNDS}}
    )
    yield built
    built.sink.close()
    built.database.dispose()


@pytest.fixture()
def tile_ledger(tmp_path: Path) -> Iterator[Ledger]:
    tiles = tmp_path / "tiles"
    (tiles / "15" / "27000").mkdir(parents=True)
    (tiles / "15" / "27000" / "12000.png").write_bytes(PNG)
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"not a tile of the folder")
    (tiles / "15" / "27000" / "12001.png").symlink_to(secret)  # a link out of the folder
    center = {"lat": 38.05, "lon": 114.47}
    built = ledger_with(
        tmp_path, {"tiles": {"dir": str(tiles), "min_zoom": 10, "max_zoom": 16, "center": center, "zoom": 15}}
    )
    yield built
    built.sink.close()
    built.database.dispose()


def test_the_console_learns_the_map_and_the_camera_list_carries_positions(image_ledger: Ledger) -> None:
    client, viewer = image_ledger.client, image_ledger.auth("viewer")
    view = client.get("/api/console/config", headers=viewer).json()["map"]
    assert view["kind"] == "image" and view["title"] == "新华区一张图"
    assert view["image"]["url"].startswith("/api/map/image?v=")
    assert (view["image"]["width"], view["image"]["height"]) == (120, 80)
    assert view["image"]["bounds"] == [[38.04, 114.455], [38.056, 114.485]]
    cameras = {c["id"]: c for c in client.get("/api/cameras", headers=viewer).json()}
    assert cameras["campus-road"]["position"] == {"lat": 38.04876, "lon": 114.46675}
    assert cameras["unplaced"]["position"] is None
    assert client.get("/api/cameras/campus-road", headers=viewer).json()["position"]["lat"] == 38.04876


def test_the_map_image_is_served_with_cache_headers_and_an_etag(image_ledger: Ledger) -> None:
    client, viewer = image_ledger.client, image_ledger.auth("viewer")
    url = client.get("/api/console/config", headers=viewer).json()["map"]["image"]["url"]
    answer = client.get(url, headers=viewer)
    assert answer.status_code == 200 and answer.content == SVG
    assert answer.headers["content-type"].startswith("image/svg+xml")
    assert answer.headers["cache-control"] == "private, max-age=3600"
    assert "sandbox" in answer.headers["content-security-policy"]  # an SVG opened alone runs nothing
    again = client.get(url, headers={**viewer, "If-None-Match": answer.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert client.get("/api/map/tiles/1/0/0", headers=viewer).status_code == 404  # an image map has no tiles


def test_an_image_over_the_limit_or_gone_is_a_clear_error(
    image_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, viewer = image_ledger.client, image_ledger.auth("viewer")
    monkeypatch.setattr(map_routes, "MAX_IMAGE_BYTES", 10)
    answer = client.get("/api/map/image", headers=viewer)
    assert answer.status_code == 500 and "over the limit of 10 bytes" in answer.json()["detail"]
    assert image_ledger.config.map is not None and image_ledger.config.map.image is not None
    Path(image_ledger.config.map.image.path).unlink()
    answer = client.get("/api/map/image", headers=viewer)
    assert (
        answer.status_code == 404 and "city.svg" in answer.json()["detail"] and "not found" in answer.json()["detail"]
    )


def test_tiles_come_from_the_folder_only(tile_ledger: Ledger) -> None:
    client, viewer = tile_ledger.client, tile_ledger.auth("viewer")
    view = client.get("/api/console/config", headers=viewer).json()["map"]
    assert view == {
        "kind": "tiles",
        "title": "",
        "tiles": {
            "url": "/api/map/tiles/{z}/{x}/{y}",
            "min_zoom": 10,
            "max_zoom": 16,
            "center": [38.05, 114.47],
            "zoom": 15,
            "attribution": "",
        },
    }
    tile = client.get("/api/map/tiles/15/27000/12000", headers=viewer)
    assert tile.status_code == 200 and tile.content == PNG and tile.headers["content-type"] == "image/png"
    assert tile.headers["cache-control"] == "private, max-age=86400" and tile.headers["etag"]
    assert client.get("/api/map/tiles/15/27000/12001", headers=viewer).status_code == 404  # a link out of the folder
    assert client.get("/api/map/tiles/15/27000/11999", headers=viewer).status_code == 404  # no such tile
    assert client.get("/api/map/tiles/9/0/0", headers=viewer).status_code == 404  # below min_zoom
    assert client.get("/api/map/tiles/15/32768/0", headers=viewer).status_code == 404  # off the world at z 15
    for bad in ("15/-1/0", "15/x/0", "99/0/0", "15/27000/..%2F..%2Fsecret"):
        assert client.get(f"/api/map/tiles/{bad}", headers=viewer).status_code in (404, 422), bad
    assert client.get("/api/map/image", headers=viewer).status_code == 404


def test_without_a_map_the_console_draws_a_schematic(tmp_path: Path) -> None:
    ledger = ledger_with(tmp_path, None)
    try:
        viewer = ledger.auth("viewer")
        assert ledger.client.get("/api/console/config", headers=viewer).json()["map"] == {
            "kind": "schematic",
            "title": "",
        }
        answer = ledger.client.get("/api/map/image", headers=viewer)
        assert answer.status_code == 404 and "no map image is configured" in answer.json()["detail"]
    finally:
        ledger.sink.close()
        ledger.database.dispose()


def test_closed_reads_need_a_token_for_the_map_too(image_ledger: Ledger) -> None:
    client = image_ledger.client
    assert client.get("/api/map/image").status_code == 401
    token = image_ledger.tokens["viewer"]
    assert client.get("/api/map/image", params={"token": token}).content == SVG  # as an <img> asks
