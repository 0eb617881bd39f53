"""The operator console's server side: static files, live updates (SSE), camera thumbnails."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import cv2
import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.app import attach_pipeline, create_app
from api.live import Broadcaster, StreamTickets
from citywatch.config import CitywatchConfig
from citywatch.domain.accounts import add_user
from citywatch.domain.cameras import register_cameras
from citywatch.domain.db import open_database
from citywatch.events import EventRecord
from citywatch.sink import EventSink
from citywatch.uptime import UptimeTracker
from tests.support import REPO, ThreadServer, demo_config_dict
from vision.streams import StreamState


@pytest.fixture()
def app(tmp_path: Path):  # type: ignore[no-untyped-def]
    config = CitywatchConfig.model_validate(demo_config_dict(tmp_path))
    database = open_database(config.storage.database_url)
    application = create_app(config, database)

    @application.post("/api/test-change")
    def change() -> dict:
        return {"ok": True}

    yield application
    database.dispose()


def test_console_page_and_assets_are_served_locally(app) -> None:  # type: ignore[no-untyped-def]
    client = TestClient(app)
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/static/js/app.js" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # nothing from the internet
    script = client.get("/static/js/app.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert client.get("/static/vendor/chartjs/chart.umd.js").status_code == 200
    assert client.get("/static/vendor/chartjs/LICENSE.md").status_code == 200
    assert client.get("/static/../routes/console.py").status_code == 404
    assert client.get("/static/%2e%2e/routes/console.py").status_code == 404
    assert client.get("/static/js/missing.js").status_code == 404
    config = client.get("/api/console/config").json()
    assert config["timezone"] == "Asia/Shanghai" and config["districts"] == ["新华区"]


def test_static_assets_reference_no_remote_host() -> None:
    static = REPO / "api" / "static"
    for file in static.rglob("*"):
        if file.suffix in {".js", ".css", ".html"} and "vendor" not in file.parts:
            text = file.read_text(encoding="utf-8")
            assert "http://" not in text.replace("http://www.w3.org/2000/svg", ""), file
            assert "https://" not in text, file


def _run(coroutine):  # type: ignore[no-untyped-def]
    """asyncio.run in a thread of its own (Playwright's sync API may hold this thread's loop)."""
    result: list = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(coroutine)))
    thread.start()
    thread.join(10)
    return result[0]


def test_broadcaster_delivers_and_drops_for_slow_clients() -> None:
    async def scenario() -> tuple[list[dict], int, dict]:
        broadcaster = Broadcaster(queue_size=2)
        subscriber = broadcaster.subscribe()
        # publish from another thread, as the camera threads do
        thread = threading.Thread(target=lambda: [broadcaster.publish("change", {"n": n}) for n in range(5)])
        thread.start()
        thread.join()
        await asyncio.sleep(0.05)
        received = []
        while not subscriber.queue.empty():
            received.append(subscriber.queue.get_nowait())
        broadcaster.unsubscribe(subscriber)
        return received, subscriber.dropped, broadcaster.stats()

    received, dropped, stats = _run(scenario())
    assert [m["data"]["n"] for m in received] == [0, 1]
    assert dropped == 3 and stats == {"clients": 0, "published": 5, "dropped": 3}


def test_event_payload_is_pushed_without_file_paths() -> None:
    async def scenario() -> dict:
        broadcaster = Broadcaster()
        subscriber = broadcaster.subscribe()
        broadcaster.publish_event(
            {
                "id": 7,
                "type": "illegal_parking",
                "camera_id": "c",
                "snapshot": "/secret/x.jpg",
                "evidence": [{"kind": "trigger", "path": "/secret/x.jpg"}],
            }
        )
        return await asyncio.wait_for(subscriber.queue.get(), 1)

    message = _run(scenario())
    assert message["kind"] == "event" and message["data"]["id"] == 7
    assert "/secret" not in json.dumps(message)


def test_stream_pushes_events_and_changes_live(app) -> None:  # type: ignore[no-untyped-def]
    with app.state.context.database.session() as session:  # writes need a token, even to a test route
        operator = {"Authorization": f"Bearer {add_user(session, 'op', 'operator')}"}
    with ThreadServer(app) as server:
        base = server.base
        sink = SimpleNamespace(listeners=[], problems=lambda: [])
        attach_pipeline(app, sink=sink)
        kinds: list[str] = []
        with httpx.Client(base_url=base, timeout=10) as client, client.stream("GET", "/api/stream") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                if not line.startswith("data: "):
                    continue
                message = json.loads(line[6:])
                kinds.append(message["kind"])
                if message["kind"] == "hello":
                    sink.listeners[0]({"id": 42, "type": "illegal_parking", "camera_id": "campus-road"})
                    assert httpx.post(f"{base}/api/test-change", headers=operator).status_code == 200
                if message["kind"] == "event":
                    assert message["data"]["id"] == 42
                if message["kind"] == "change":
                    assert message["data"] == {"method": "POST", "path": "/api/test-change", "status": 200}
                    break
        assert kinds[0] == "hello" and "event" in kinds and kinds[-1] == "change"
        assert httpx.get(f"{base}/api/stream/stats").json()["published"] >= 2


def test_latest_frame_thumbnail(app) -> None:  # type: ignore[no-untyped-def]
    client = TestClient(app)
    assert client.get("/api/cameras/campus-road/latest.jpg").status_code == 404  # no pipeline yet
    assert client.get("/api/cameras/nope/latest.jpg").status_code == 404
    image = np.zeros((576, 768, 3), np.uint8)
    image[:, :384] = 255
    frame = SimpleNamespace(image=image, stream_s=12.5)
    app.state.context.latest_frame = {"campus-road": frame}.get  # as a running pipeline's Runtime.latest_frame
    response = client.get("/api/cameras/campus-road/latest.jpg", params={"width": 320})
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    decoded = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (240, 320, 3)
    assert response.headers["x-stream-seconds"] == "12.500"


def test_me_names_the_caller_and_its_role(tmp_path: Path) -> None:
    data = demo_config_dict(tmp_path)
    data["api"] = {"anonymous_read": False}
    config = CitywatchConfig.model_validate(data)
    database = open_database(config.storage.database_url)
    with database.session() as session:
        token = add_user(session, "wang.li", "operator")
    client = TestClient(create_app(config, database))
    assert client.get("/api/console/me").status_code == 401
    assert client.get("/api/console/me", headers={"Authorization": "Bearer nope"}).status_code == 401
    me = client.get("/api/console/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me == {"name": "wang.li", "role": "operator", "anonymous": False}
    assert client.get("/api/stream").status_code == 401  # live updates need a token too
    assert client.get("/api/stream", params={"ticket": "forged"}).status_code == 401
    assert client.post("/api/stream/ticket").status_code == 401
    ticket = client.post("/api/stream/ticket", headers={"Authorization": f"Bearer {token}"}).json()
    assert len(ticket["ticket"]) >= 32 and ticket["expires_in_s"] == 60
    assert client.get("/api/cameras/campus-road/latest.jpg").status_code == 401
    database.dispose()


def test_uptime_tracker_counts_online_time() -> None:
    states = {"a": StreamState.ONLINE, "b": StreamState.OFFLINE}
    tracker = UptimeTracker(lambda: {cid: SimpleNamespace(state=s) for cid, s in states.items()})
    tracker.sample(10.0)
    states["b"] = StreamState.ONLINE
    tracker.sample(30.0)
    snapshot = tracker.snapshot()
    assert snapshot["a"] == {"observed_s": 40.0, "online_s": 40.0, "uptime": 1.0}
    assert snapshot["b"] == {"observed_s": 40.0, "online_s": 30.0, "uptime": 0.75}


def test_stream_carries_changes_made_by_another_process(app) -> None:  # type: ignore[no-untyped-def]
    """An event stored by a pipeline this app is not wired to still reaches the browser."""
    context = app.state.context
    other = open_database(context.config.storage.database_url)  # as another process would
    register_cameras(other, context.config.cameras)
    sink = EventSink(other, context.config.storage.evidence_dir)
    try:
        with (
            ThreadServer(app) as server,
            httpx.Client(base_url=server.base, timeout=15) as client,
            client.stream("GET", "/api/stream") as response,
        ):
            for line in response.iter_lines():
                if not line.startswith("data: "):
                    continue
                message = json.loads(line[6:])
                if message["kind"] == "hello":
                    time.sleep(0.5)  # let the watcher take its marks first
                    stored = sink.record(
                        EventRecord(
                            uid="other-process",
                            type="illegal_parking",
                            camera_id="campus-road",
                            rule_id="kerb-no-parking",
                            zone_id="kerb",
                            label="car",
                            track_id=1,
                            first_seen_s=0.0,
                            triggered_s=20.0,
                            score=0.9,
                            box=(1.0, 2.0, 3.0, 4.0),
                            occurred_wall_s=time.time(),
                        )
                    )
                if message["kind"] == "event":
                    assert message["data"]["id"] == stored["id"]
                    break
    finally:
        other.dispose()


def test_committed_ledger_changes_are_pushed(app) -> None:  # type: ignore[no-untyped-def]
    broadcaster: Broadcaster = app.state.broadcaster
    assert broadcaster.publish_committed in app.state.context.database.subscribers

    async def scenario() -> dict:
        subscriber = broadcaster.subscribe()
        broadcaster.publish_committed([("case", {"case": {"id": 3, "status": "dispatched"}, "action": {"id": 9}})])
        return await asyncio.wait_for(subscriber.queue.get(), 1)

    message = _run(scenario())
    assert message["kind"] == "case" and message["data"]["case"] == {"id": 3, "status": "dispatched"}


def test_stream_tickets_open_the_stream_once() -> None:
    tickets = StreamTickets(ttl_s=60)
    ticket = tickets.issue()
    assert tickets.redeem(ticket) is True
    assert tickets.redeem(ticket) is False
    assert tickets.redeem("forged") is False
    stale = StreamTickets(ttl_s=0)
    assert stale.redeem(stale.issue()) is False
