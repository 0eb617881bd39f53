"""Config and source gaps: what used to pass validation and then never worked, or ended silently.

Rule labels no model can produce, self-intersecting or zero-area zones and unknown database URLs
are config errors (file, line, field path); a cut or frameless video file ends its camera with an
error naming the file, and `citywatch replay` exits non-zero instead of reporting a clean end.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from citywatch.cli import main
from citywatch.config import CameraConfig, ConfigError, parse_config
from citywatch.config.rules import RULE_LABELS
from tests.support import SHARED, demo_config_dict, write_config
from vision.labels import CITYWATCH_LABELS, GROUPS
from vision.streams import StreamReader, StreamState

CAR_MP4 = SHARED / "media" / "car-detection.mp4"

GOOD = """\
cameras:
  - id: cam-1
    url: rtsp://127.0.0.1:8554/cam1
    zones:
      - id: kerb
        polygon: [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5], [0.1, 0.5]]
    rules:
      - id: no-parking
        type: illegal_parking
        zones: [kerb]
        labels: [car, truck]
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "test.yaml")
    return info.value.problems


# --- rule labels ---------------------------------------------------------------------------------


def test_the_config_knows_the_labels_vision_knows() -> None:
    assert set(RULE_LABELS) == set(CITYWATCH_LABELS) | set(GROUPS)


def test_an_unknown_rule_label_names_the_field_and_the_known_labels() -> None:
    (problem,) = problems_of(GOOD.replace("labels: [car, truck]", "labels: [car, elephant]"))
    assert problem.startswith("line 11: cameras[0].rules[0].labels:"), problem
    assert "'elephant'" in problem and "car" in problem and "vehicle" in problem


def test_group_labels_and_every_kind_default_still_validate() -> None:
    config = parse_config(GOOD.replace("labels: [car, truck]", "labels: [vehicle, non_motor, person]"))
    assert config.cameras[0].rules[0].labels == ["vehicle", "non_motor", "person"]


def test_check_config_and_replay_refuse_an_unknown_label(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = demo_config_dict(tmp_path)
    data["cameras"][0]["rules"][0]["labels"] = ["elephant"]
    path = write_config(tmp_path, data)
    assert main(["check-config", str(path)]) == 2
    assert main(["replay", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("cameras[0].rules[0].labels") == 2 and "elephant" in err and "Traceback" not in err


def test_a_label_no_configured_model_produces_is_refused_where_models_resolve(
    tmp_path: Path, model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = demo_config_dict(tmp_path)
    data["cameras"][0]["rules"].append(
        {"id": "bin", "type": "litter", "source": "detector", "zones": ["kerb"], "labels": ["litter"]}
    )
    path = write_config(tmp_path, data)
    assert main(["check-config", str(path)]) == 2
    assert main(["replay", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("cameras[0].rules[1].labels") == 2, err
    assert "line " in err and "litter" in err and "yolox-nano-coco" in err and "car" in err
    assert "Traceback" not in err


# --- zones ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("polygon", "reason"),
    [
        ("[[0.1, 0.1], [0.5, 0.5], [0.5, 0.1], [0.1, 0.5]]", "crosses itself"),  # a bow tie
        ("[[0.1, 0.1], [0.6, 0.1], [0.6, 0.5], [0.3, 0.0], [0.1, 0.5]]", "crosses itself"),
        ("[[0.1, 0.1], [0.2, 0.2], [0.3, 0.3]]", "zero area"),  # all on one line
        ("[[0.1, 0.1], [0.5, 0.1], [0.5, 0.1], [0.5, 0.5]]", "repeats a vertex"),
        ("[[0.1, 0.1], [0.5, 0.1], [0.5, 0.5], [0.5, 0.3]]", "crosses itself"),  # an edge doubling back
    ],
)
def test_a_degenerate_zone_is_refused_with_its_path(polygon: str, reason: str) -> None:
    text = GOOD.replace("[[0.1, 0.1], [0.5, 0.1], [0.5, 0.5], [0.1, 0.5]]", polygon)
    (problem,) = problems_of(text)
    assert problem.startswith("line 6: cameras[0].zones[0].polygon:"), problem
    assert reason in problem and "'kerb'" in problem


def test_concave_and_touching_free_zones_are_valid() -> None:
    concave = "[[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.5, 0.3], [0.1, 0.9]]"
    config = parse_config(GOOD.replace("[[0.1, 0.1], [0.5, 0.1], [0.5, 0.5], [0.1, 0.5]]", concave))
    assert len(config.cameras[0].zones[0].polygon) == 5


# --- database URL --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"), [("notadb://x", "unknown database 'notadb'"), ("not a url", "not a database URL")]
)
def test_an_unknown_database_url_is_a_config_error(url: str, reason: str) -> None:
    (problem,) = problems_of(GOOD + f"storage:\n  database_url: {url}\n")
    assert problem.startswith("line 13: storage.database_url:"), problem
    assert reason in problem


def test_replay_with_an_unknown_database_exits_2_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = demo_config_dict(tmp_path)
    data["storage"]["database_url"] = "notadb://x"
    path = write_config(tmp_path, data)
    assert main(["check-config", str(path)]) == 2
    assert main(["replay", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "storage.database_url" in err and "Traceback" not in err


def test_a_password_in_a_bad_database_url_is_not_echoed() -> None:
    (problem,) = problems_of(GOOD + "storage:\n  database_url: 'notadb://admin:S3cr3t@db/x'\n")
    assert "S3cr3t" not in problem


# --- cut and empty files -------------------------------------------------------------------------


def _cut(source: Path, target: Path, keep: float | int) -> Path:
    data = source.read_bytes()
    target.write_bytes(data[: keep if isinstance(keep, int) else int(len(data) * keep)])
    return target


def _read(path: Path) -> tuple[int, StreamReader]:
    reader = StreamReader(CameraConfig(id="cam", url=str(path), analysis_fps=2, replay={"speed": "fast"}))
    return sum(1 for _ in reader.frames()), reader


def _mdat_offset(path: Path) -> int:
    data = path.read_bytes()
    return data.index(b"mdat") + 4 + 64  # the sample tables are whole, the samples are not


@pytest.mark.parametrize("kind", ["mp4-half", "avi-half", "mp4-no-samples", "avi-header-only"])
def test_a_cut_or_frameless_file_ends_its_camera_with_an_error(tmp_path: Path, vtest_path: Path, kind: str) -> None:
    source = CAR_MP4 if kind.startswith("mp4") else vtest_path
    target = tmp_path / f"{kind}{source.suffix}"
    keep: float | int = 0.5 if kind.endswith("half") else 20000
    if kind == "mp4-no-samples":
        keep = _mdat_offset(source)
    _cut(source, target, keep)
    frames, reader = _read(target)
    health = reader.health
    assert health.state == StreamState.ERROR, (kind, frames, health.state)
    assert str(target) in (health.last_error or "")
    assert ("truncated" if frames else "no video frames") in (health.last_error or ""), health.last_error


def test_whole_files_still_end_cleanly(vtest_path: Path) -> None:
    for path in (vtest_path, CAR_MP4):
        frames, reader = _read(path)
        assert frames > 50 and reader.health.state == StreamState.ENDED, reader.health.last_error


def test_replay_of_a_truncated_file_exits_3_naming_the_file(
    tmp_path: Path, model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cut = _cut(CAR_MP4, tmp_path / "cut.mp4", 0.5)
    data = demo_config_dict(tmp_path, url=str(cut), analysis_fps=0.5)
    assert main(["replay", "--config", str(write_config(tmp_path, data)), "--json"]) == 3
    (line,) = [r.getMessage() for r in caplog.records if r.levelname == "ERROR" and r.name == "citywatch"]
    assert line.startswith("camera campus-road: truncated file") and str(cut) in line
