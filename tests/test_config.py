"""Config validation: every bad file fails before anything starts, naming file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from citywatch.cli import main
from citywatch.config import ConfigError, load_config, parse_config
from tests.support import REPO

DEMO = REPO / "configs" / "demo.yaml"

GOOD = """\
detector:
  model: yolox_nano.onnx
cameras:
  - id: cam-1
    url: rtsp://127.0.0.1:8554/cam1
    zones:
      - id: kerb
        polygon: [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]]
    rules:
      - id: no-parking
        type: illegal_parking
        zones: [kerb]
        min_dwell_s: 30
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "test.yaml")
    assert "test.yaml" in str(info.value)
    return info.value.problems


def test_demo_config_is_valid() -> None:
    config = load_config(DEMO)
    camera = config.camera("campus-road")
    assert camera.analysis_fps == 2
    assert camera.zones[0].polygon[0] == (0.83, 0.05)
    assert camera.rules[0].min_dwell_s == 20
    assert camera.rules[0].labels == ["car", "truck", "bus", "motorcycle"]


def test_defaults_fill_in() -> None:
    config = parse_config(GOOD)
    assert config.detector.confidence == 0.3
    assert config.storage.database_url.startswith("sqlite:///")
    assert config.cameras[0].rules[0].anchor == "bottom_center"
    assert not config.cameras[0].is_file


def test_missing_field_names_line_and_path() -> None:
    text = GOOD.replace("    url: rtsp://127.0.0.1:8554/cam1\n", "")
    (problem,) = problems_of(text)
    assert problem.startswith("line 4: cameras[0].url")
    assert "required" in problem.lower()


def test_out_of_range_polygon_points_at_the_value() -> None:
    text = GOOD.replace("[0.5, 0.5]]", "[1.5, 0.5]]")
    (problem,) = problems_of(text)
    assert problem.startswith("line 8: cameras[0].zones[0].polygon[2][0]")
    assert "less than or equal to 1" in problem


def test_unknown_key_is_an_error() -> None:
    text = GOOD.replace("        min_dwell_s: 30", "        min_dwel_s: 30")
    (problem,) = problems_of(text)
    assert "line 13" in problem and "min_dwel_s" in problem and "Extra inputs" in problem


def test_rule_naming_an_unknown_zone() -> None:
    text = GOOD.replace("zones: [kerb]", "zones: [kreb]")
    (problem,) = problems_of(text)
    assert "line 4: cameras[0]" in problem and "unknown zone" in problem and "kreb" in problem


def test_bad_types_and_bounds() -> None:
    text = GOOD.replace("min_dwell_s: 30", "min_dwell_s: -5")
    text = text.replace("model: yolox_nano.onnx", "model: x\n  confidence: 2")
    problems = problems_of(text)
    assert any(p.startswith("line 3: detector.confidence") for p in problems)
    assert any("min_dwell_s" in p and "greater than 0" in p for p in problems)


def test_bad_url_scheme() -> None:
    (problem,) = problems_of(GOOD.replace("rtsp://127.0.0.1:8554/cam1", "ftp://host/x"))
    assert "cameras[0].url" in problem and "unsupported URL scheme 'ftp'" in problem


def test_duplicate_camera_ids() -> None:
    text = GOOD + "  - id: cam-1\n    url: other.mp4\n"
    (problem,) = problems_of(text)
    assert "duplicate camera ids: cam-1" in problem


def test_invalid_yaml_reports_line() -> None:
    (problem,) = problems_of("cameras:\n  - id: a\n    url: [unclosed\n")
    assert problem.startswith("line ") and "not valid YAML" in problem


def test_not_a_mapping() -> None:
    (problem,) = problems_of("- just\n- a list\n")
    assert "mapping" in problem


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml")
    assert "nope.yaml" in str(info.value) and "cannot read" in str(info.value)


def test_environment_references(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAM_HOST", "10.1.2.3")
    monkeypatch.delenv("UNSET_VAR", raising=False)
    text = GOOD.replace("127.0.0.1:8554", "${CAM_HOST}:${UNSET_VAR:-554}")
    assert parse_config(text).cameras[0].url == "rtsp://10.1.2.3:554/cam1"
    (problem,) = problems_of(GOOD.replace("127.0.0.1", "${UNSET_VAR}"))
    assert "UNSET_VAR is not set" in problem


def test_check_config_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(DEMO)]) == 0
    assert "camera campus-road" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("analysis_fps", "x").replace("min_dwell_s: 30", "min_dwell_s: zero"))
    assert main(["check-config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "line 13: cameras[0].rules[0].min_dwell_s" in err


def test_teams_default_to_named_squads_and_must_be_unique() -> None:
    config = parse_config(GOOD)
    assert [team.name for team in config.teams][:2] == ["第一执法中队", "第二执法中队"]
    assert all(team.district == "" for team in config.teams)  # the defaults serve any district
    teams = "teams:\n  - {id: east, name: 东城中队, district: 新华区, contact: '0311-1234'}\n"
    assert [t.name for t in parse_config(teams + GOOD).teams] == ["东城中队"]
    twice = "teams:\n  - {id: east, name: 东城中队}\n  - {id: east, name: 西城中队}\n"
    assert any("team" in p and "east" in p for p in problems_of(twice + GOOD))
