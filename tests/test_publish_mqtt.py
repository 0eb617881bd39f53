"""Publishing: a subscriber on the real Mosquitto broker (127.0.0.1:1883) receives the event and
every case transition; webhooks get them too, retried after failures; a full queue drops, never blocks."""

from __future__ import annotations

import contextlib
import json
import queue
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from citywatch.config import MqttConfig, WebhookConfig
from citywatch.publish import Publisher
from tests.ledger_support import make_ledger
from tests.support import mqtt_subscriber
from vision.streams import StreamHealth, StreamState


def _collect(received: queue.Queue, until: int, timeout: float = 10.0) -> list[tuple[str, dict]]:
    messages, deadline = [], time.monotonic() + timeout
    while len(messages) < until and time.monotonic() < deadline:
        with contextlib.suppress(queue.Empty):
            messages.append(received.get(timeout=0.2))
    return messages


@pytest.mark.broker
def test_event_and_case_transitions_reach_mqtt(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    prefix = f"cw-test-{secrets.token_hex(4)}"
    subscriber, received = mqtt_subscriber(prefix, lambda m: (m.topic, json.loads(m.payload)))
    ledger = make_ledger(tmp_path, database_url, extra={"mqtt": {"enabled": True, "topic_prefix": prefix}})
    publisher = ledger.client.app.state.publisher
    ledger.sink.publisher = publisher
    try:
        assert publisher.connected.wait(10)
        event = ledger.event()
        operator = ledger.auth("operator")
        review = ledger.client.post(f"/api/events/{event['id']}/review", json={"action": "confirm"}, headers=operator)
        case_id = review.json()["case"]["id"]
        for body in (
            {"to": "dispatched", "team": "一中队"},
            {"to": "handled", "note": "已处置"},
            {"to": "verified"},
            {"to": "closed"},
        ):
            assert (
                ledger.client.post(f"/api/cases/{case_id}/transitions", json=body, headers=operator).status_code == 200
            )
        health = StreamHealth()
        health.set_state(StreamState.ONLINE)
        publisher.report_status(lambda: {"campus-road": health}, every_s=60)
        messages = _collect(received, until=8)
    finally:
        subscriber.loop_stop()
        subscriber.disconnect()
        publisher.stop()
        ledger.sink.close()
        ledger.database.dispose()
    events = [payload for topic, payload in messages if topic == f"{prefix}/events"]
    assert [e["uid"] for e in events] == [event["uid"]] and events[0]["case_id"] == case_id
    assert events[0]["snapshot"].endswith("-trigger.jpg")
    cases = [payload for topic, payload in messages if topic == f"{prefix}/cases"]
    assert [(c["action"]["from_status"], c["case"]["status"]) for c in cases] == [
        (None, "new"),
        ("new", "registered"),
        ("registered", "dispatched"),
        ("dispatched", "handled"),
        ("handled", "verified"),
        ("verified", "closed"),
    ]
    assert cases[2]["case"]["team"] == "一中队" and cases[2]["action"]["actor"] == "operator-1"
    status = [payload for topic, payload in messages if topic == f"{prefix}/campus-road/status"]
    assert status and status[0]["state"] == "online" and status[0]["camera_id"] == "campus-road"
    assert status[0]["reconnects"] == 0 and "last_frame_age_s" in status[0]  # the one health snapshot


def test_webhooks_are_retried_and_a_full_queue_drops_without_blocking() -> None:
    hits: list[dict] = []
    failures = {"left": 2}

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if failures["left"] > 0:
                failures["left"] -= 1
                self.send_response(503)
            else:
                hits.append(body)
                self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    publisher = Publisher(None, [WebhookConfig(url=url, retries=3, kinds=["case"])])
    publisher.start()
    try:
        assert publisher.publish("case", {"case": {"id": 1}, "action": {"to_status": "registered"}})
        publisher.publish("event", {"uid": "not-sent", "camera_id": "c"})  # this hook only takes cases
        deadline = time.monotonic() + 10
        while not hits and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        publisher.stop()
        server.shutdown()
    assert hits == [{"kind": "case", "payload": {"case": {"id": 1}, "action": {"to_status": "registered"}}}]
    assert publisher.stats.webhook_sent == 1 and failures["left"] == 0

    stuck = Publisher(MqttConfig(enabled=True, port=1), max_queue=5)  # never connects; thread not started
    started = time.monotonic()
    results = [stuck.publish("event", {"camera_id": "c", "n": i}) for i in range(50)]
    assert time.monotonic() - started < 0.5
    assert results.count(True) == 5 and stuck.stats.dropped == 45
