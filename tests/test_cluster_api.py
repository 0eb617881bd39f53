"""Placement over HTTP with the inline engine: `GET /api/cameras` names each camera's worker and
node, `GET /api/cluster` lists this host and its one worker, and `/metrics` carries the same."""

from __future__ import annotations

import socket
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import attach_pipeline, create_app
from citywatch.config import CitywatchConfig
from citywatch.detectors import load_detector
from citywatch.domain.cameras import register_cameras
from citywatch.domain.db import open_database
from citywatch.runtime import Runtime
from citywatch.sink import EventSink
from tests.support import demo_config_dict


def test_inline_engine_places_every_camera_on_this_host(tmp_path: Path, model_dir: Path) -> None:
    config = CitywatchConfig.model_validate(demo_config_dict(tmp_path))
    database = open_database(config.storage.database_url)
    register_cameras(database, config.cameras)
    sink = EventSink.from_config(config, database)
    app = create_app(config, database)
    attach_pipeline(app, runtime=Runtime(config, load_detector(config.detector), sink), sink=sink)
    client = TestClient(app)
    (listed,) = client.get("/api/cameras").json()
    host = socket.gethostname()
    assert (listed["worker"], listed["node"]) == ("inline", host)
    assert client.get("/api/cameras/campus-road").json()["worker"] == "inline"
    cluster = client.get("/api/cluster").json()
    assert cluster["engine"] == "inline" and cluster["unassigned"] == []
    (worker,) = cluster["workers"]
    assert worker["cameras"] == ["campus-road"] and worker["node"] == host and worker["rss_bytes"] > 0
    assert [node["workers"] for node in cluster["nodes"]] == [["inline"]]
    metrics = client.get("/metrics").text
    assert f'citywatch_worker_up{{node="{host}",worker="inline"}} 1.0' in metrics
    assert f'citywatch_camera_assigned{{camera="campus-road",node="{host}",worker="inline"}} 1.0' in metrics
    database.dispose()


def test_without_a_pipeline_the_cluster_is_empty(tmp_path: Path) -> None:
    config = CitywatchConfig.model_validate(demo_config_dict(tmp_path))
    database = open_database(config.storage.database_url)
    client = TestClient(create_app(config, database))
    assert client.get("/api/cluster").json() == {"engine": "inline", "nodes": [], "workers": [], "unassigned": []}
    assert client.get("/api/cameras").json()[0]["worker"] is None
    database.dispose()
