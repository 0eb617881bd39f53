"""The evaluation harness: matching and scores (pure), exit status, and the parking scenario on
vtest.avi (acceptance: precision and recall 1.0, two events in the zone covering both vehicles)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from citywatch.cli import main
from citywatch.commands import eval as evalcmd
from citywatch.commands.eval import Truth, below_minimum, score
from tests.support import REPO, SHARED, demo_config_dict, write_config


def event(camera: str, t: float, zone: str = "kerb", type_: str = "illegal_parking", ended: float | None = None):
    return {
        "type": type_,
        "camera_id": camera,
        "zone_id": zone,
        "triggered_s": t,
        "ended_s": ended,
        "rule_id": "r",
        "label": "car",
        "track_id": 1,
        "first_seen_s": t - 20,
        "duration_s": None,
        "score": 0.8,
    }


TRUTH = Truth.model_validate(
    {
        "minimums": {"precision": 1.0, "recall": 1.0},
        "events": [
            {"type": "illegal_parking", "camera": "a", "zone": "kerb", "window": [20, 22], "expected_s": 20.5},
            {"type": "illegal_parking", "camera": "a", "zone": "kerb", "window": [20, 22], "expected_s": 20.5},
            {
                "type": "waterlogging",
                "camera": "b",
                "zone": "road",
                "window": [24, 26],
                "expected_s": 25,
                "cleared_window": [49, 51],
            },
        ],
    }
)


def test_perfect_match() -> None:
    scores, rows = score(TRUTH, [event("a", 20.5), event("a", 21.0), event("b", 25.5, "road", "waterlogging", 50.0)])
    parking, water = scores["illegal_parking"], scores["waterlogging"]
    assert (parking.tp, parking.fp, parking.misses, parking.precision, parking.recall) == (2, 0, 0, 1.0, 1.0)
    assert parking.as_dict()["trigger_error_max_s"] == 0.5 and water.clears_ok == 1
    assert below_minimum(TRUTH, scores) == []
    assert [r["result"] for r in rows] == ["tp", "tp", "tp"]


def test_misses_false_positives_and_late_clears() -> None:
    events = [event("a", 20.5), event("a", 30.0), event("c", 20.5), event("b", 25.5, "road", "waterlogging", 60.0)]
    scores, _ = score(TRUTH, events)
    parking = scores["illegal_parking"]
    assert (parking.tp, parking.fp, parking.misses) == (1, 2, 1)
    assert parking.precision == pytest.approx(1 / 3) and parking.recall == 0.5
    problems = below_minimum(TRUTH, scores)
    assert any("precision" in p for p in problems) and any("not cleared" in p for p in problems)


def test_wrong_zone_is_not_a_match() -> None:
    scores, _ = score(TRUTH, [event("a", 20.5, zone="elsewhere")])
    assert scores["illegal_parking"].tp == 0 and scores["illegal_parking"].fp == 1


def test_exit_status_when_a_minimum_is_missed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, demo_config_dict(tmp_path))
    truth = tmp_path / "truth.yaml"
    truth.write_text(
        "events:\n  - {type: illegal_parking, camera: campus-road, window: [20, 22]}\nminimums: {recall: 1.0}\n"
    )
    monkeypatch.setattr(evalcmd, "replay_events", lambda config, workdir: [])
    assert main(["eval", "--config", str(config), "--truth", str(truth), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["rules"][0]["misses"] == 1 and not report["passed"]
    monkeypatch.setattr(evalcmd, "replay_events", lambda config, workdir: [event("campus-road", 20.5)])
    assert main(["eval", "--config", str(config), "--truth", str(truth)]) == 0
    assert "illegal_parking" in capsys.readouterr().out


@pytest.mark.e2e
def test_parking_scenario_on_vtest(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], model_dir: Path, vtest_path: Path
) -> None:
    monkeypatch.setenv("CITYWATCH_SHARED_DIR", str(SHARED))
    monkeypatch.chdir(REPO)
    code = main(["eval", "--config", "configs/eval_parking.yaml", "--truth", "tests/scenarios/parking.yaml", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report["problems"]
    (parking,) = report["rules"]
    assert (parking["tp"], parking["fp"], parking["misses"]) == (3, 0, 0)
    assert parking["precision"] == 1.0 and parking["recall"] == 1.0
    both = [r["event"] for r in report["matches"] if r["event"]["camera_id"] == "campus-road-both"]
    assert sorted(e["label"] for e in both) == ["car", "truck"]  # one event per vehicle
    assert parking["trigger_error_max_s"] <= 1.0
