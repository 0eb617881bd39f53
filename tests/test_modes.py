"""Modes: per-group plans (pure), the mode holder (persisted, polled), `citywatch mode`, and a live
switch to `flood` through `PUT /api/mode` during a multi-camera replay."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from citywatch.cli import main
from citywatch.config import CitywatchConfig
from citywatch.detectors import load_detector
from citywatch.domain.accounts import add_user
from citywatch.domain.cameras import register_cameras
from citywatch.domain.db import open_database
from citywatch.domain.mode_log import mode_history
from citywatch.domain.tables import Event, ModeChange
from citywatch.modes import ModeHolder, UnknownModeError, plan_for
from citywatch.runtime import Runtime
from citywatch.sink import EventSink
from tests.support import KERB_ZONE, MODEL_DIR, VTEST, write_config

ROAD = [[0.56, 0.443], [0.846, 0.443], [0.911, 0.747], [0.729, 0.66]]


def config_dict(tmp_path: Path, max_stream_s: float = 30.0) -> dict:
    parking = {"id": "kerb-no-parking", "type": "illegal_parking", "zones": ["kerb"], "min_dwell_s": 5}
    water = {
        "id": "road-water",
        "type": "waterlogging",
        "zones": ["road"],
        "threshold": 0.3,
        "persist_s": 10,
        "reference_s": 2,
    }
    zones = [{"id": "kerb", "polygon": KERB_ZONE}, {"id": "road", "polygon": ROAD}]
    replay = {"max_stream_s": max_stream_s}
    return {
        "detector": {"model": "yolox_nano.onnx", "model_dirs": [str(MODEL_DIR)]},
        "storage": {"database_url": f"sqlite:///{tmp_path / 'cw.db'}", "evidence_dir": str(tmp_path / "ev")},
        "cameras": [
            {
                "id": "street",
                "url": str(VTEST),
                "analysis_fps": 2,
                "groups": ["streets"],
                "zones": zones,
                "rules": [parking],
                "replay": replay,
            },
            {
                "id": "underpass",
                "url": str(VTEST),
                "analysis_fps": 1,
                "groups": ["flood"],
                "zones": zones,
                "rules": [dict(parking, id="underpass-parking"), water],
                "replay": replay,
            },
        ],
        "modes": {
            "normal": {"groups": {"flood": {"rules": ["illegal_parking"]}, "*": {"rules": "all"}}},
            "flood": {
                "description": "汛期: watch the underpasses",
                "groups": {
                    "flood": {"rules": ["waterlogging"], "analysis_fps": 4, "priority": "high"},
                    "streets": {"rules": "none"},
                },
            },
        },
    }


def test_plan_per_group(tmp_path: Path) -> None:
    config = CitywatchConfig.model_validate(config_dict(tmp_path))
    street, underpass = config.cameras
    normal = plan_for(config, "normal", underpass)
    assert normal.active_rules == {"underpass-parking"} and normal.analysis_fps == 1 and normal.priority == 0
    flood = plan_for(config, "flood", underpass)
    assert flood.active_rules == {"road-water"} and flood.analysis_fps == 4 and flood.priority == 1
    assert plan_for(config, "flood", street).active_rules == frozenset()
    assert plan_for(config, "normal", street).active_rules == {"kerb-no-parking"}  # via "*"


def test_unknown_rule_in_a_mode_is_a_config_error(tmp_path: Path) -> None:
    data = config_dict(tmp_path)
    data["modes"]["flood"]["groups"]["flood"]["rules"] = ["no-such-rule"]
    with pytest.raises(ValueError, match="no-such-rule"):
        CitywatchConfig.model_validate(data)
    data = config_dict(tmp_path)
    data["default_mode"] = "storm"
    with pytest.raises(ValueError, match="default_mode"):
        CitywatchConfig.model_validate(data)


def test_holder_persists_and_polls(tmp_path: Path) -> None:
    config = CitywatchConfig.model_validate(config_dict(tmp_path))
    database = open_database(config.storage.database_url)
    now = [0.0]
    holder = ModeHolder(config, database, clock=lambda: now[0])
    assert holder.current() == ("normal", 0)
    with pytest.raises(UnknownModeError):
        holder.set("storm", "someone")
    other = ModeHolder(config, database, clock=lambda: now[0])  # e.g. `citywatch mode set` elsewhere
    other.set("flood", "duty-officer", via="cli")
    assert holder.current()[0] == "normal"  # not polled yet
    now[0] += config.mode_poll_s
    mode, version = holder.current()
    assert (mode, version) == ("flood", 1) and holder.changed_by == "duty-officer"
    restarted = ModeHolder(config, database)  # survives a restart
    assert restarted.mode == "flood"
    history = mode_history(database)
    assert [(h["mode"], h["previous"], h["changed_by"], h["via"]) for h in history] == [
        ("flood", "normal", "duty-officer", "cli")
    ]
    database.dispose()


def test_mode_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, config_dict(tmp_path))
    assert main(["mode", "set", "flood", "--config", str(path), "--user", "王队长"]) == 0
    assert main(["mode", "set", "storm", "--config", str(path)]) == 2
    capsys.readouterr()
    assert main(["mode", "show", "--config", str(path), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["mode"] == "flood" and shown["changed_by"] == "王队长"
    assert shown["cameras"]["underpass"] == {"active_rules": ["road-water"], "analysis_fps": 4.0, "priority": "high"}


@pytest.mark.e2e
def test_switch_to_flood_through_the_api_during_a_replay(tmp_path: Path) -> None:
    config = CitywatchConfig.model_validate(config_dict(tmp_path))
    database = open_database(config.storage.database_url)
    register_cameras(database, config.cameras)
    with database.session() as session:
        token = add_user(session, "duty-officer", "operator")
    sink = EventSink(database, config.storage.evidence_dir)
    runtime = Runtime(config, load_detector(config.detector), sink, speed=4.0)
    app = create_app(config, database)
    app.state.context.mode_holder = runtime.modes
    client = TestClient(app)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/mode", headers=headers).json()["mode"] == "normal"
    assert client.put("/api/mode", json={"mode": "flood"}).status_code == 401  # needs an operator

    street, underpass = runtime.workers["street"], runtime.workers["underpass"]
    runtime.start()
    deadline = time.monotonic() + 60
    while min(w.pipeline.last_stream_s for w in (street, underpass)) < 12.0:  # parking has triggered
        assert time.monotonic() < deadline, "replay too slow"
        time.sleep(0.05)
    before = {w.camera.id: w.pipeline.last_stream_s for w in (street, underpass)}
    response = client.put("/api/mode", json={"mode": "flood"}, headers=headers)
    after = {w.camera.id: w.pipeline.last_stream_s for w in (street, underpass)}  # last frame seen by then
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mode"] == "flood" and body["history"][0]["changed_by"] == "duty-officer"
    assert runtime.wait(timeout=120)
    runtime.detector.close()

    # The switch took effect at the next analysed frame of each camera (one analysis interval).
    for worker, interval in ((street, 0.5), (underpass, 1.0)):
        (_, first), (switch_s, plan) = worker.pipeline.plan_log
        assert first.mode == "normal" and plan.mode == "flood"
        assert before[worker.camera.id] < switch_s <= after[worker.camera.id] + interval + 1e-6
    assert street.pipeline.active_rule_ids == []  # parking idle on the street camera
    assert underpass.pipeline.active_rule_ids == ["road-water"]
    water = next(rule for rule in underpass.pipeline.rules if rule.id == "road-water")
    switch_s = underpass.pipeline.plan_log[1][0]
    assert water.reference.ready and water.history, "the waterlogging rule ran after the switch"
    assert water.history[0][0] > switch_s - 1e-6 and water.history[-1][0] >= 29.0
    times = sorted({t for t, _, _ in water.history})
    gaps = [b - a for a, b in itertools.pairwise(times)]  # 4 fps in flood mode (10 fps source: 0.2/0.3 s)
    assert max(gaps) <= 0.3 + 1e-6 and sum(gaps) / len(gaps) < 0.27, times
    # The dry reference takes reference_s (2 s) of frames from the switch, then it measures.
    assert water.history[0][0] <= switch_s + 2.0 + 0.3 + 1e-6, (switch_s, times[:3])
    assert underpass.pipeline.priority == 1

    # Events: parking fired once per camera before the switch and its stays were closed by it.
    with database.session() as session:
        events = session.scalars(select(Event).order_by(Event.id)).all()
        assert sorted(e.camera_id for e in events) == ["street", "underpass"]
        assert all(e.type == "illegal_parking" and e.triggered_s < 12.0 for e in events)
        for event in events:
            switch_s = runtime.workers[event.camera_id].pipeline.plan_log[1][0]
            assert switch_s - 1.0 - 1e-6 <= event.ended_s < switch_s  # the idle rule closed the stay (last seen)
        changes = session.scalars(select(ModeChange)).all()
        assert [(c.mode, c.previous, c.changed_by, c.via) for c in changes] == [
            ("flood", "normal", "duty-officer", "api")
        ]
    assert ModeHolder(config, database).mode == "flood"  # after a restart
    database.dispose()
