"""Detection scheduling gives the same events as detecting every analysed frame, on every footage.

Each scenario (the configs the other tests replay, the pipeline bench's busy crossing, the same
scene with the vehicles arriving mid-clip, a 1-fps variant, the parking-lot clip) is replayed
twice with the same model: with the shipped default (`motion_gating: true`: the detector runs only
on the frames the rules need) and with every analysed frame detected. Events must be the same:
type, camera, zone, label, and trigger time within one analysis interval. The scheduled run must
also have skipped detector calls, so the test fails if scheduling is gone as well as if it
changes an event.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bench.pipeline.scenario import replay_camera
from citywatch.config import CitywatchConfig, load_config
from citywatch.detectors import load_detector_set
from citywatch.domain.cameras import register_cameras
from citywatch.domain.db import open_database
from citywatch.equivalence import compare_events
from citywatch.runtime import run_replay
from citywatch.sink import EventSink
from tests.scenarios import synth
from tests.support import REPO, SHARED, demo_config_dict

pytestmark = [pytest.mark.footage, pytest.mark.e2e]

CAR_MP4 = SHARED / "media" / "car-detection.mp4"


def replay(config: CitywatchConfig, workdir: Path, gating: bool) -> tuple[list[dict[str, Any]], int, int, Counter]:
    """Replay `config` with scheduling on or off: (events, detector calls run, calls skipped, the
    gates' decisions by reason)."""
    workdir.mkdir(parents=True)
    storage = config.storage.model_copy(
        update={"database_url": f"sqlite:///{workdir / 'events.db'}", "evidence_dir": str(workdir / "evidence")}
    )
    config = config.model_copy(
        update={"storage": storage, "detector": config.detector.model_copy(update={"motion_gating": gating})}
    )
    database = open_database(storage.database_url)
    register_cameras(database, config.cameras)
    sink = EventSink(database, storage.evidence_dir)
    events: list[dict[str, Any]] = []
    runtime = run_replay(config, load_detector_set(config.detector, config.detectors), sink, on_event=events.append)
    sink.close()
    database.dispose()
    assert not runtime.errors
    run = sum(w.detections_run for w in runtime.workers.values())
    skipped = sum(w.detections_skipped for w in runtime.workers.values())
    reasons: Counter = Counter()
    for worker in runtime.workers.values():
        reasons.update(worker.gate.reasons if worker.gate is not None else {})
    return events, run, skipped, reasons


def _repo_config(name: str) -> Callable[[Path, pytest.MonkeyPatch], CitywatchConfig]:
    def build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CitywatchConfig:
        monkeypatch.setenv("CITYWATCH_SHARED_DIR", str(SHARED))
        monkeypatch.setenv("CITYWATCH_SYNTH_DIR", str(tmp_path / "synthetic"))
        if "synthetic" in name:
            synth.generate(tmp_path / "synthetic")
        monkeypatch.chdir(REPO)
        return load_config(name)

    return build


def _dict_config(make: Callable[[Path], dict[str, Any]]) -> Callable[[Path, pytest.MonkeyPatch], CitywatchConfig]:
    def build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CitywatchConfig:
        return CitywatchConfig.model_validate(make(tmp_path))

    return build


def _crossing(tmp_path: Path) -> dict[str, Any]:
    data = demo_config_dict(tmp_path)
    camera = replay_camera(minutes=1.0)
    camera["replay"] = {"speed": "fast"}  # one pass of the clip
    data["cameras"] = [camera]
    return data


def _arrival(tmp_path: Path) -> dict[str, Any]:
    data = _crossing(tmp_path)
    data["cameras"][0]["url"] = str(synth.arrival_clip(tmp_path / "arrival.avi", appear_s=13.2)["path"])
    return data


def _one_fps(tmp_path: Path) -> dict[str, Any]:
    return demo_config_dict(tmp_path, analysis_fps=1)


def _parking_lot(tmp_path: Path) -> dict[str, Any]:
    whole = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
    return demo_config_dict(
        tmp_path,
        url=str(CAR_MP4),
        zones=[{"id": "lot", "polygon": whole}],
        rules=[{"id": "lot-dwell", "type": "illegal_parking", "zones": ["lot"], "min_dwell_s": 3}],
    )


#: name -> (config builder, the least number of events the footage gives).
SCENARIOS: dict[str, tuple[Callable[[Path, pytest.MonkeyPatch], CitywatchConfig], int]] = {
    "demo": (_repo_config("configs/demo.yaml"), 1),
    "eval-parking": (_repo_config("configs/eval_parking.yaml"), 3),
    "synthetic-litter-water": (_repo_config("configs/eval_synthetic.yaml"), 2),
    "kerb-and-busy-crossing": (_dict_config(_crossing), 2),
    # The two vehicles appear at 13.2 s amid the pedestrians: their entry lands on deferred frames.
    "vehicles-arrive-in-a-busy-scene": (_dict_config(_arrival), 2),
    "demo-1fps": (_dict_config(_one_fps), 1),
    # The COCO model barely sees this top-down view (two detections in 30 s): no event either way.
    "parking-lot": (_dict_config(_parking_lot), 0),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scheduled_detection_raises_the_same_events(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_dir: Path
) -> None:
    build, least = SCENARIOS[name]
    config = build(tmp_path, monkeypatch)
    every, every_run, every_skipped, _ = replay(config, tmp_path / "every-frame", gating=False)
    scheduled, run, skipped, reasons = replay(config, tmp_path / "scheduled", gating=True)
    interval = max(1.0 / camera.analysis_fps for camera in config.cameras)
    assert compare_events(every, scheduled, tolerance_s=interval) == []
    assert len(every) >= least, every
    assert every_skipped == 0
    assert skipped > 0 and run < every_run, (run, skipped, every_run)
    if every and name != "synthetic-litter-water":  # (the baselines measure every frame themselves)
        assert reasons["due"] >= 1  # a parking trigger is confirmed by a fresh detection
    if name == "kerb-and-busy-crossing":  # pedestrians all clip long: moving frames were deferred
        assert reasons["defer"] > reasons["motion"], reasons
    if name == "vehicles-arrive-in-a-busy-scene":  # the arrival was settled by detecting the held frames
        assert reasons["confirm"] >= 1 and min(e["first_seen_s"] for e in every) > 12.0, reasons
