"""Camera add and remove while a Ray-engine cluster runs: the groups whose cameras did not change
keep running untouched (same worker process), the changed ones restart from checkpoints, a new
camera comes online, a removed one disappears; `plan_reload` is the pure decision."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from citywatch.cluster.partition import partition
from citywatch.cluster.ray_engine import RayEngine
from citywatch.cluster.reload import plan_reload
from citywatch.config import CitywatchConfig
from citywatch.domain.cameras import register_cameras
from citywatch.domain.db import open_database
from citywatch.modes import ModeHolder
from citywatch.sink import EventSink
from tests.support import CitywatchProcess, demo_config_dict, write_config


def _config(tmp_path: Path, ids: list[str], fps: dict[str, float] | None = None) -> CitywatchConfig:
    data = demo_config_dict(tmp_path)
    (camera,) = data["cameras"]
    camera["replay"] = {"speed": "realtime"}
    data["cameras"] = [{**camera, "id": i, "analysis_fps": (fps or {}).get(i, 1)} for i in ids]
    data["cluster"] = {"engine": "ray", "address": "local", "cameras_per_worker": 2, "worker_cpus": 0.5}
    return CitywatchConfig.model_validate(data)


def test_plan_reload_keeps_untouched_groups(tmp_path: Path) -> None:
    old = _config(tmp_path, ["a", "b", "c"])
    old_groups = partition(["a", "b", "c"], 2)
    new = _config(tmp_path, ["a", "b", "c", "d"])
    plan = plan_reload(old, old_groups, new, partition(["a", "b", "c", "d"], 2))
    assert len(plan.keep) == 1 and len(plan.retire) == len(plan.start) == 1 and plan.resume == {"a", "b", "c"}
    changed = _config(tmp_path, ["a", "b", "c"], fps={"a": 2})
    replan = plan_reload(old, old_groups, changed, old_groups)
    (group_of_a,) = [g for g, ids in old_groups.items() if "a" in ids]
    assert replan.retire == replan.start == (group_of_a,) and "a" not in replan.resume
    assert plan_reload(old, old_groups, old, old_groups).keep == tuple(sorted(old_groups))


def _online(engine: RayEngine, ids: set[str], timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        health, placement = engine.health(), engine.placement()
        if set(health) == ids and all(health[c].state == "online" and placement[c]["pid"] for c in ids):
            return
        time.sleep(0.5)
    raise AssertionError(f"not online: {engine.cluster()}")


def _pids(engine: RayEngine) -> dict[str, Any]:
    return {w["worker"]: (w["pid"], tuple(w["cameras"])) for w in engine.cluster()["workers"]}


@pytest.mark.cluster
@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_adding_and_removing_cameras_leaves_the_other_groups_running(tmp_path: Path, model_dir: Path) -> None:
    config = _config(tmp_path, ["a", "b", "c"])
    database = open_database(config.storage.database_url)
    register_cameras(database, config.cameras)
    sink = EventSink.from_config(config, database)
    engine = RayEngine(config, sink, ModeHolder(config, database))
    engine.start()
    try:
        _online(engine, {"a", "b", "c"})
        before = _pids(engine)
        plan = engine.reload(_config(tmp_path, ["a", "b", "c", "d"]))
        _online(engine, {"a", "b", "c", "d"})
        after = _pids(engine)
        assert all(after[g] == before[g] for g in plan.keep) and plan.keep  # untouched: same process
        assert all(after[g][0] != before.get(g, (None,))[0] for g in plan.start)  # restarted or new
        plan = engine.reload(_config(tmp_path, ["a", "b", "c"]))
        _online(engine, {"a", "b", "c"})
        assert "d" not in engine.placement() and all(_pids(engine)[g] == after[g] for g in plan.keep)
    finally:
        engine.stop()
        database.dispose()


@pytest.mark.cluster
@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_citywatch_run_applies_a_new_camera_on_sighup(tmp_path: Path, model_dir: Path) -> None:
    config = _config(tmp_path, ["a"])
    data = config.model_dump(mode="json", exclude_defaults=True)
    path = write_config(tmp_path, data)
    with CitywatchProcess(path, tmp_path / "run.log", timeout_s=90) as server:

        def cameras() -> dict[str, Any]:
            return {c["id"]: c for c in httpx.get(server.base + "/api/cameras", timeout=10).json()}

        def online(ids: set[str]) -> bool:
            listed = cameras()
            return set(listed) == ids and all(c["health"]["state"] == "online" and c["node"] for c in listed.values())

        _until(lambda: online({"a"}), 90)
        data["cameras"].append({**data["cameras"][0], "id": "b"})
        write_config(tmp_path, data)
        server.process.send_signal(signal.SIGHUP)
        _until(lambda: online({"a", "b"}), 90)
        assert (tmp_path / "run.log").read_text().count("reloaded") == 1


def _until(condition: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.5)
