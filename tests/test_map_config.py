"""The map's configuration (issue #17): camera positions (lat/lon or x/y), the `map:` section (a map
image or a local tile folder, never a tile server), and whether the positions suit the map; each bad
file fails with a clear error naming the line and the field."""

from __future__ import annotations

import pytest

from citywatch.config import ConfigError, load_config, parse_config
from citywatch.config.camera import PositionConfig
from citywatch.config.map import MapConfig, MapTilesConfig, placement_problem
from tests.support import REPO

CAMERA = """\
cameras:
  - id: cam-1
    url: rtsp://127.0.0.1:8554/cam1
{position}
"""
IMAGE_MAP = """\
map:
  title: 新华区一张图
  image:
    path: maps/city.png
    width: 1200
    height: 800
{bounds}
"""


def config_text(position: str = "", map_section: str = "") -> str:
    return CAMERA.format(position=position) + map_section


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "map.yaml")
    assert "map.yaml" in str(info.value)
    return info.value.problems


def test_a_camera_is_placed_by_lat_lon_or_by_x_y_on_the_image() -> None:
    geo = parse_config(config_text("    position: {lat: 38.0488, lon: 114.4668}")).cameras[0].position
    assert geo is not None and (geo.lat, geo.lon, geo.kind) == (38.0488, 114.4668, "geo")
    image = (
        parse_config(config_text("    position: {x: 0.25, y: 0.5}", IMAGE_MAP.format(bounds=""))).cameras[0].position
    )
    assert image is not None and (image.x, image.y, image.kind) == (0.25, 0.5, "image")
    assert parse_config(config_text()).cameras[0].position is None  # optional: listed as not placed
    assert parse_config(config_text()).map is None  # no map: the console's schematic


@pytest.mark.parametrize(
    ("position", "message"),
    [
        ("{lat: 38.0}", "position: lat given without lon"),
        ("{x: 0.5}", "position: x given without y"),
        ("{lat: 38.0, lon: 114.5, x: 0.1, y: 0.2}", "give either lat and lon (degrees) or x and y"),
        ("{}", "give lat and lon (degrees) or x and y"),
        ("{lat: 91, lon: 114.5}", "less than or equal to 90"),
        ("{lat: 38.0, lon: -181}", "greater than or equal to -180"),
        ("{x: 1.5, y: 0.5}", "less than or equal to 1"),
        ("{lat: .nan, lon: 114.5}", "lat"),
        ("{lat: 38.0, lon: 114.5, height: 3}", "height"),
    ],
)
def test_a_bad_position_names_the_line_and_the_field(position: str, message: str) -> None:
    problems = problems_of(config_text(f"    position: {position}"))
    assert len(problems) == 1
    assert "line 4: cameras[0].position" in problems[0]
    assert message in problems[0]


def test_an_image_map_needs_a_known_image_type_and_a_size() -> None:
    config = parse_config(config_text("", IMAGE_MAP.format(bounds="")))
    assert config.map is not None and config.map.kind == "image" and config.map.image is not None
    assert (config.map.image.media_type, config.map.image.width, config.map.title) == (
        "image/png",
        1200,
        "新华区一张图",
    )
    svg = MapConfig(image={"path": "configs/maps/demo-city.SVG", "width": 10, "height": 10})
    assert svg.image is not None and svg.image.media_type == "image/svg+xml"
    (problem,) = problems_of(config_text("", IMAGE_MAP.format(bounds="").replace("city.png", "city.gif")))
    assert "map.image.path" in problem and "'maps/city.gif': use one of .jpeg, .jpg, .png, .svg, .webp" in problem
    (problem,) = problems_of(config_text("", IMAGE_MAP.format(bounds="").replace("width: 1200", "width: 0")))
    assert "line 9: map.image.width" in problem and "greater than 0" in problem


@pytest.mark.parametrize(
    ("bounds", "message"),
    [
        ("{south: 38.06, west: 114.45, north: 38.04, east: 114.49}", "south (38.06) must be below north (38.04)"),
        ("{south: 38.04, west: 114.49, north: 38.06, east: 114.45}", "west (114.49) must be left of east (114.45)"),
    ],
)
def test_image_bounds_must_be_in_order(bounds: str, message: str) -> None:
    (problem,) = problems_of(config_text("", IMAGE_MAP.format(bounds=f"    bounds: {bounds}")))
    assert "map.image.bounds" in problem and message in problem


def test_a_tile_map_reads_a_local_folder_through_a_safe_template() -> None:
    tiles = MapTilesConfig(dir="/srv/tiles", center={"lat": 38.05, "lon": 114.47}, zoom=15)
    assert tiles.template == "{z}/{x}/{y}.png" and tiles.tile_path(15, 27_000, 12_000) == "15/27000/12000.png"
    assert tiles.media_type == "image/png"
    jpeg = MapTilesConfig(dir="t", template="z{z}/{y}_{x}.jpg", center={"lat": 0, "lon": 0}, zoom=3)
    assert (jpeg.tile_path(3, 1, 2), jpeg.media_type) == ("z3/2_1.jpg", "image/jpeg")


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "must be a relative path inside the tile folder"),
        ("/srv/{z}/{x}/{y}.png", "must be a relative path inside the tile folder"),
        ("../{z}/{x}/{y}.png", "must be a relative path inside the tile folder"),
        ("{z}/{x}.png", "must hold {z}, {x} and {y} once each"),
        ("{z}/{x}/{y}/{s}.png", "must hold {z}, {x} and {y} once each"),
        ("{z}/{x}/{y}.png}", "unmatched brace"),
        ("{z}/{x}/{y}.svg", "tiles must be one of .jpeg, .jpg, .png, .webp"),
    ],
)
def test_a_tile_template_that_leaves_the_folder_or_names_no_tile_is_refused(template: str, message: str) -> None:
    text = config_text(
        "    position: {lat: 38.05, lon: 114.47}",
        f"map:\n  tiles:\n    dir: tiles\n    template: '{template}'\n    center: {{lat: 38.05, lon: 114.47}}\n",
    )
    (problem,) = problems_of(text)
    assert "map.tiles.template" in problem and message in problem


def test_tile_zooms_must_hold_the_opening_zoom() -> None:
    base = "map:\n  tiles:\n    dir: tiles\n    center: {lat: 38.05, lon: 114.47}\n"
    (problem,) = problems_of(config_text("", base + "    min_zoom: 12\n    max_zoom: 10\n    zoom: 11\n"))
    assert "min_zoom (12) is above max_zoom (10)" in problem
    (problem,) = problems_of(config_text("", base + "    min_zoom: 12\n    max_zoom: 16\n    zoom: 17\n"))
    assert "zoom 17 is outside min_zoom..max_zoom (12..16)" in problem
    (problem,) = problems_of(config_text("", base + "    max_zoom: 30\n"))
    assert "map.tiles.max_zoom" in problem and "less than or equal to 22" in problem


def test_a_map_is_an_image_or_tiles_not_both_nor_neither() -> None:
    for section in (
        "map: {title: 空}\n",
        IMAGE_MAP.format(bounds="") + "  tiles: {dir: t, center: {lat: 0, lon: 0}}\n",
    ):
        (problem,) = problems_of(config_text("", section))
        assert "map: give exactly one of `image` (a map image) or `tiles` (a local tile folder)" in problem


@pytest.mark.parametrize(
    ("position", "map_section", "message"),
    [
        (
            "{x: 0.2, y: 0.3}",
            "map:\n  tiles: {dir: t, center: {lat: 38.05, lon: 114.47}}\n",
            "camera(s) cam-1 have x/y positions, which only a map image places",
        ),
        (
            "{lat: 38.05, lon: 114.47}",
            IMAGE_MAP.format(bounds=""),
            "camera(s) cam-1 have lat/lon positions but the map image has no `bounds`",
        ),
    ],
)
def test_positions_must_suit_the_map(position: str, map_section: str, message: str) -> None:
    (problem,) = problems_of(config_text(f"    position: {position}", map_section))
    assert message in problem


def test_an_image_with_bounds_places_both_kinds_and_the_schematic_only_one() -> None:
    bounds = "    bounds: {south: 38.04, west: 114.455, north: 38.056, east: 114.485}"
    text = (
        config_text("    position: {lat: 38.05, lon: 114.47}")
        + "  - id: cam-2\n    url: rtsp://127.0.0.1:8554/cam2\n    position: {x: 0.5, y: 0.5}\n"
        + IMAGE_MAP.format(bounds=bounds)
    )
    config = parse_config(text)
    assert {camera.id: camera.position.kind for camera in config.cameras if camera.position} == {
        "cam-1": "geo",
        "cam-2": "image",
    }
    (problem,) = problems_of(text.split("map:")[0])  # the same cameras with no map: the schematic
    assert "cameras mix lat/lon (cam-1) and x/y (cam-2) positions" in problem
    assert placement_problem(None, {"a": "geo", "b": "geo"}) is None
    assert placement_problem(None, {"a": "image"}) is None


def test_the_demo_places_three_cameras_on_its_own_map_image() -> None:
    config = load_config(REPO / "configs" / "demo.yaml")
    assert config.map is not None and config.map.image is not None and config.map.image.bounds is not None
    image = REPO / config.map.image.path
    assert image.is_file() and image.stat().st_size < 200_000
    assert len(config.cameras) >= 3
    bounds = config.map.image.bounds
    for camera in config.cameras:
        assert camera.name and camera.district and camera.street, camera.id
        assert camera.position is not None and camera.position.lat is not None and camera.position.lon is not None
        assert bounds.south < camera.position.lat < bounds.north, camera.id
        assert bounds.west < camera.position.lon < bounds.east, camera.id
    assert any("flood" in camera.groups and camera.rules for camera in config.cameras)
    assert PositionConfig(x=0, y=1).kind == "image"
