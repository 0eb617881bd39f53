"""Bay occupation and floating debris end to end, on footage composed by tests/scenarios/compose.py
(written with OpenCV into a temp dir, never committed) and replayed by `citywatch eval` with the
real detector: (a) a traffic cone drawn into a road bay of vtest.avi's frames from 20 s to 150 s
of stream time raises one `parking_space_occupied` event near 20 + min_dwell_s that ends where the
cone went; (b) a bottle drifting on a synthetic rippling, glinting river raises one
`floating_debris` event for its whole drift, and the ripples and glare alone raise none."""

from __future__ import annotations

from pathlib import Path

import pytest

from citywatch.commands.eval import evaluate, load_truth
from citywatch.config import load_config
from tests.scenarios import compose
from tests.support import REPO, SHARED
from vision.labels import OCCUPIER

pytestmark = pytest.mark.e2e


def _run(config: str, truth: str, directory: Path, monkeypatch: pytest.MonkeyPatch, work: Path) -> dict:
    monkeypatch.setenv("CITYWATCH_COMPOSED_DIR", str(directory))
    monkeypatch.setenv("CITYWATCH_SHARED_DIR", str(SHARED))
    monkeypatch.chdir(REPO)
    return evaluate(load_config(config), load_truth(truth), work)


def test_a_cone_holding_a_bay_raises_one_event_that_ends_when_it_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, vtest_path: Path, model_dir: Path
) -> None:
    truth = compose.generate_bay(tmp_path / "clips")["bay"]
    report = _run(
        "configs/eval_occupancy.yaml",
        "tests/scenarios/occupancy.yaml",
        tmp_path / "clips",
        monkeypatch,
        tmp_path / "work",
    )
    assert report["passed"], report["problems"]
    [score] = report["rules"]
    assert (score["type"], score["tp"], score["fp"], score["misses"]) == ("parking_space_occupied", 1, 0, 0)
    [row] = report["matches"]
    event = row["event"]
    assert event["camera_id"] == "bay" and event["zone_id"] == "bay-1"  # nothing on the control clip
    min_dwell = load_config("configs/eval_occupancy.yaml").camera("bay").rules[0].min_dwell_s
    # due at T1 + min_dwell_s; the baseline counts the cone once it stands still (a few frames)
    assert truth["appear_s"] + min_dwell <= event["triggered_s"] <= truth["appear_s"] + min_dwell + 3.0
    assert truth["remove_s"] - 1.0 <= event["ended_s"] <= truth["remove_s"] + 1.0  # last seen where it stood
    assert event["label"] in OCCUPIER and truth["appear_s"] <= event["first_seen_s"] <= truth["appear_s"] + 3.0


def test_a_drifting_bottle_is_one_event_and_ripples_alone_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_dir: Path
) -> None:
    truth = compose.generate_water(tmp_path / "clips")["water"]
    report = _run(
        "configs/eval_debris.yaml", "tests/scenarios/debris.yaml", tmp_path / "clips", monkeypatch, tmp_path / "work"
    )
    assert report["passed"], report["problems"]
    [score] = report["rules"]
    assert (score["type"], score["tp"], score["fp"], score["misses"]) == ("floating_debris", 1, 0, 0)
    [row] = report["matches"]
    event = row["event"]
    assert event["camera_id"] == "river"  # the ripples and glare of river-control raised nothing
    persist = load_config("configs/eval_debris.yaml").camera("river").rules[0].persist_s
    assert truth["appear_s"] + persist <= event["triggered_s"] <= truth["appear_s"] + persist + 3.0
    # one event for the whole drift: it lasts until the clip ends, the bottle having drifted 390 px
    assert event["ended_s"] >= 75.0
    assert event["label"] == "debris" and truth["appear_s"] <= event["first_seen_s"] <= truth["appear_s"] + 2.0
