"""The skeleton's API over real HTTP: a uvicorn server on a free loopback port over a replayed DB."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.app import attach_pipeline, create_app
from citywatch.config import CitywatchConfig
from citywatch.detectors import load_detector
from citywatch.domain.cameras import register_cameras
from citywatch.domain.db import open_database
from citywatch.runtime import run_replay
from citywatch.sink import EventSink
from tests.support import ThreadServer, demo_config_dict

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Iterator[str]:
    tmp_path = tmp_path_factory.mktemp("api")
    config = CitywatchConfig.model_validate(demo_config_dict(tmp_path))
    database = open_database(config.storage.database_url)
    register_cameras(database, config.cameras)
    runtime = run_replay(config, load_detector(config.detector), EventSink(database, config.storage.evidence_dir))
    app = create_app(config, database)
    attach_pipeline(app, runtime=runtime)
    with ThreadServer(app) as server:
        yield server.base
    database.dispose()


def test_healthz(base_url: str) -> None:
    body = httpx.get(f"{base_url}/healthz").json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["cameras"] == {"campus-road": "ended"}


def test_cameras(base_url: str) -> None:
    (camera,) = httpx.get(f"{base_url}/api/cameras").json()
    assert camera["id"] == "campus-road" and camera["district"] == "新华区"
    assert camera["zones"][0]["id"] == "kerb" and camera["event_count"] == 1
    assert camera["health"]["state"] == "ended" and camera["health"]["frames_dropped"] == 0
    assert camera["analysis"]["active_rules"] == ["kerb-no-parking"] and camera["analysis"]["mode"] == "normal"
    assert httpx.get(f"{base_url}/api/cameras/nope").status_code == 404


def test_events_list_detail_and_snapshot(base_url: str) -> None:
    page = httpx.get(f"{base_url}/api/events").json()
    assert page["total"] == 1
    (event,) = page["items"]
    assert event["type"] == "illegal_parking" and event["label"] in {"car", "truck"}
    assert event["zone_id"] == "kerb" and event["review_status"] == "pending"
    detail = httpx.get(f"{base_url}/api/events/{event['id']}").json()
    assert detail == event
    snapshot = httpx.get(f"{base_url}{event['snapshot_url']}")
    assert snapshot.status_code == 200 and snapshot.headers["content-type"] == "image/jpeg"
    assert snapshot.content[:2] == b"\xff\xd8" and len(snapshot.content) > 10_000
    entry = httpx.get(f"{base_url}/api/events/{event['id']}/evidence/entry.jpg")
    assert entry.status_code == 200 and entry.content != snapshot.content


def test_event_filters(base_url: str) -> None:
    def total(**params: str) -> int:
        response = httpx.get(f"{base_url}/api/events", params=params)
        assert response.status_code == 200, response.text
        return response.json()["total"]

    assert total(camera_id="campus-road") == 1
    assert total(camera_id="other") == 0
    assert total(type="illegal_parking") == 1 and total(type="litter") == 0
    assert total(since="2000-01-01T00:00:00Z") == 1
    assert total(until="2000-01-01T00:00:00Z") == 0


def test_errors_are_clear(base_url: str) -> None:
    missing = httpx.get(f"{base_url}/api/events/999999")
    assert missing.status_code == 404 and "999999" in missing.json()["detail"]
    bad = httpx.get(f"{base_url}/api/events", params={"limit": "0"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "limit"]
    assert httpx.get(f"{base_url}/api/events/1/snapshot.jpg").status_code == 200
    assert httpx.get(f"{base_url}/api/events/999999/snapshot.jpg").status_code == 404


def test_openapi_docs(base_url: str) -> None:
    schema = httpx.get(f"{base_url}/openapi.json").json()
    assert {
        "/api/cameras",
        "/api/events",
        "/api/events/{event_id}",
        "/api/events/{event_id}/snapshot.jpg",
        "/healthz",
    } <= set(schema["paths"])
    assert httpx.get(f"{base_url}/docs").status_code == 200


def test_prometheus_metrics(base_url: str) -> None:
    response = httpx.get(f"{base_url}/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'citywatch_camera_state{camera="campus-road",state="ended"} 1.0' in text
    for counter in ("frames_decoded", "frames_analysed"):
        line = next(x for x in text.splitlines() if x.startswith(f"citywatch_camera_{counter}_total"))
        assert float(line.split()[-1]) >= 159  # 79.5 s at 2 fps
    assert 'citywatch_detections_total{camera="campus-road",decision="run"}' in text
    assert 'citywatch_detection_reasons_total{camera="campus-road",reason="first"} 1.0' in text
