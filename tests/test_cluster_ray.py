"""Acceptance 1 of issue 13: a real two-node Ray cluster on loopback (`ray start --head`, and a second
`ray start --address` on this machine, each with its own resources, token authentication on), 6
RTSP cameras of the test server in 3 camera-group workers across both nodes; the second node's
processes are killed (after one worker process on the head, restarted in place); every camera is
`online` again on the surviving node within 60 s, and the van parked throughout keeps exactly one
event per camera (none lost, none raised twice: checkpoints); a mode switch reaches every group."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from sqlalchemy import select

from citywatch.domain.db import Database, open_database
from citywatch.domain.tables import Event
from tests.rtsp.fixtures import RtspServer
from tests.support import CitywatchProcess, demo_config_dict, free_port, write_config

pytestmark = [pytest.mark.cluster, pytest.mark.rtsp, pytest.mark.e2e, pytest.mark.timeout(300)]

MIN_DWELL_S = 6.0
#: Node failure is noticed after period x threshold (defaults: 5 x 3 s); shortened for the test.
FAST_HEALTH_CHECKS = {"RAY_health_check_period_ms": "1000", "RAY_health_check_failure_threshold": "3"}


class RayNode:
    """One `ray start --block` process (a node) in a session of its own, killable with everything it started."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path):
        self.log = log.open("w")
        self.proc = subprocess.Popen(
            ["ray", "start", "--block", *args],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL the node's processes (raylet, its workers, its log monitor), as a machine's power loss."""
        if self.proc.poll() is not None:
            return
        try:
            family = [psutil.Process(self.proc.pid), *psutil.Process(self.proc.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            family = []
        for process in family:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.log.close()


@dataclass
class TwoNodes:
    address: str
    second: RayNode


@pytest.fixture
def two_nodes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TwoNodes]:
    """A head node (3 CPUs) and a second node (2 CPUs, resource `node2`) on 127.0.0.1; token auth on."""
    token = tmp_path / "ray_token"
    token.write_text(secrets.token_hex(32))
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(token))
    env = {**os.environ, **FAST_HEALTH_CHECKS, "RAY_USAGE_STATS_ENABLED": "0"}
    port = free_port()
    common = ["--disable-usage-stats"]  # Ray resolves 127.0.0.1 to this host's address; one machine either way
    temp_dir = tempfile.mkdtemp(prefix="cwray")  # short: Ray's socket paths live under it; not /tmp/ray
    head = RayNode(
        [
            "--head",
            "--port",
            str(port),
            "--num-cpus",
            "3",
            "--include-dashboard",
            "false",
            "--temp-dir",
            temp_dir,
            *common,
        ],
        env,
        tmp_path / "head.log",
    )
    address = f"127.0.0.1:{port}"
    nodes = [head]
    try:
        _wait(lambda: _alive_nodes(address, env) >= 1, 60, "the head node up")
        second = RayNode(
            ["--address", address, "--num-cpus", "2", "--resources", '{"node2": 2}', *common],
            env,
            tmp_path / "node2.log",
        )
        nodes.append(second)
        _wait(lambda: _alive_nodes(address, env) >= 2, 60, "the second node joined")
        yield TwoNodes(address, second)
    finally:
        for node in reversed(nodes):
            node.kill()
        shutil.rmtree(temp_dir, ignore_errors=True)


def _alive_nodes(address: str, env: dict[str, str]) -> int:
    """Alive nodes of the cluster, from `ray status` (token auth: RAY_AUTH_MODE and the token path in `env`)."""
    status = subprocess.run(["ray", "status", "--address", address], env=env, capture_output=True, text=True)
    if status.returncode:
        return 0
    active = status.stdout.split("Active:", 1)[-1].split("Pending:", 1)[0]
    return sum(1 for line in active.splitlines() if "node_" in line)


def _events(database: Database) -> list[tuple[str, str, float | None]]:
    """(camera, uid, ended_s) of every stored event, in order."""
    with database.session() as session:
        return [(e.camera_id, e.uid, e.ended_s) for e in session.scalars(select(Event).order_by(Event.id))]


def _wait(condition: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Seconds until `condition()` held; fails after `timeout_s` naming `what`."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout_s, f"{what}: not within {timeout_s:.0f} s"
        time.sleep(0.5)
    return time.monotonic() - started


def test_cameras_survive_the_loss_of_a_node(
    tmp_path: Path, two_nodes: TwoNodes, rtsp_server: RtspServer, model_dir: Path
) -> None:
    data = demo_config_dict(tmp_path)
    (camera,) = data["cameras"]
    camera["rules"][0]["min_dwell_s"] = MIN_DWELL_S
    data["cameras"] = [
        {**camera, "id": f"cam{i}", "url": rtsp_server.url(f"steady{i % 4}"), "analysis_fps": 1} for i in range(6)
    ]
    data["detector"]["threads"] = 1
    data["modes"] = {"normal": {}, "flood": {"groups": {"*": {"rules": "all", "priority": "high"}}}}
    data["cluster"] = {"engine": "ray", "address": two_nodes.address, "cameras_per_worker": 2, "checkpoint_s": 1.0}
    config_path = write_config(tmp_path, data)
    database = open_database(data["storage"]["database_url"])
    cameras = [f"cam{i}" for i in range(6)]
    with CitywatchProcess(config_path, tmp_path / "citywatch.log", timeout_s=90) as server:

        def get(path: str) -> Any:
            return httpx.get(server.base + path, timeout=10).json()

        def all_online(nodes: int) -> bool:
            listed = get("/api/cameras")
            online = all(c["health"]["state"] == "online" and c["node"] for c in listed)
            return online and len({c["node"] for c in listed}) == nodes

        _wait(lambda: all_online(2), 150, "every camera online, on both nodes")
        placed = {c["id"]: (c["worker"], c["node"]) for c in get("/api/cameras")}
        assert {worker for worker, _ in placed.values()} == {"g0", "g1", "g2"}
        cluster = get("/api/cluster")
        pids = {w["worker"]: w["pid"] for w in cluster["workers"]}
        assert all(w["rss_bytes"] > 0 and len(w["cameras"]) == 2 for w in cluster["workers"]), cluster
        _wait(lambda: {c for c, _, _ in _events(database)} == set(cameras), 60, "the van's event on every camera")
        before = _events(database)

        second = {w["node"] for w in cluster["workers"] if _on(w["pid"], two_nodes.second)}
        assert len(second) == 1, cluster  # the second node runs a group (and the head the others)
        on_second = sorted(c for c, (_, node) in placed.items() if node in second)

        # a worker process that dies (on the head node) is restarted in place, from its checkpoint
        victim = next(w for w in cluster["workers"] if w["node"] not in second)
        psutil.Process(victim["pid"]).kill()
        _wait(
            lambda: all_online(2) and _pid(get("/api/cluster"), victim["worker"]) not in (None, victim["pid"]),
            60,
            "the killed worker's cameras online again",
        )
        pids[victim["worker"]] = _pid(get("/api/cluster"), victim["worker"])

        killed_at = time.monotonic()
        two_nodes.second.kill()
        _wait(lambda: bool(get("/api/cluster")["unassigned"]), 30, "the lost node's cameras unassigned")
        _wait(
            lambda: all_online(1) and second.isdisjoint(c["node"] for c in get("/api/cameras")),
            60 - (time.monotonic() - killed_at),
            "every camera online again on the surviving node",
        )
        cluster = get("/api/cluster")
        assert cluster["unassigned"] == [], cluster
        moved = {w["worker"] for w in cluster["workers"] if w["pid"] != pids[w["worker"]]}
        assert moved == {placed[c][0] for c in on_second}, (moved, pids, cluster)

        # a restarted stay gets more than its minimum dwell of analysed frames to raise again, if it would
        def analysed() -> dict[str, int]:
            return {c["id"]: c["health"]["frames_analysed"] for c in get("/api/cameras")}

        start = analysed()
        _wait(lambda: all(analysed()[c] - start[c] >= MIN_DWELL_S + 4 for c in cameras), 60, "analysis past the dwell")
        after = _events(database)

        # a mode switched elsewhere (the command line) reaches every group: the driver pushes it with each pull
        switch = [sys.executable, "-m", "citywatch.cli", "mode", "set", "flood", "--config", str(config_path)]
        subprocess.run(switch, check=True, capture_output=True, timeout=60)
        _wait(
            lambda: all(c["analysis"]["mode"] == "flood" for c in get("/api/cameras")),
            5,  # mode poll 0.5 s + pull 0.25 s + the next analysed frame (1 fps) + the next report
            "the flood mode on every camera",
        )
    database.dispose()
    assert sorted(c for c, _, _ in before) == cameras  # one event per camera before the loss
    assert [(c, uid) for c, uid, _ in after] == [(c, uid) for c, uid, _ in before], "an event lost or raised twice"
    assert all(ended is None for _, _, ended in after), "a stay ended though the van never left"


def _pid(cluster: dict[str, Any], worker: str) -> int | None:
    """The process id of one worker in a `GET /api/cluster` answer (None while it is down)."""
    return next(w["pid"] for w in cluster["workers"] if w["worker"] == worker)


def _on(pid: int | None, node: RayNode) -> bool:
    """Whether process `pid` was started by `node` (a descendant of its `ray start`)."""
    try:
        return pid is not None and any(p.pid == node.proc.pid for p in psutil.Process(pid).parents())
    except psutil.NoSuchProcess:
        return False
