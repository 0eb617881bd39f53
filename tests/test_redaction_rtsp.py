"""No output of a running Citywatch shows a camera password holding `@`, `/` and `:`, whatever the
camera answers: `citywatch run` (pipeline and API, MQTT on the real Mosquitto) with cameras on a
closed port (raw and percent-encoded password), on a wrong path of the real RTSP server, behind a
server that refuses the credentials, and on a right path (it must come online: the password is
parsed right). Checked: GET /api/cameras, the SSE camera messages, the retained MQTT status, the
process's log, every byte of the data folder (database, spool) and `check-config`'s output.

The GStreamer test server (tests/rtsp) has no authentication, so the refusal comes from a small
socket server that answers every request 401; tests/test_redaction.py checks with another one that
FFmpeg sends exactly the configured password.
"""

from __future__ import annotations

import contextlib
import json
import queue
import secrets
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest

from tests.rtsp.basic_auth import BasicAuthRtsp
from tests.rtsp.fixtures import RtspServer
from tests.support import REPO, CitywatchProcess, demo_config_dict, free_port, mqtt_subscriber, write_config

pytestmark = [pytest.mark.rtsp, pytest.mark.e2e, pytest.mark.broker, pytest.mark.timeout(180)]

RAW = "p@ss/w:rd"
ENCODED = "p%40ss%2Fw%3Ard"
#: Every form of the password, and pieces a half-parsed URL would let out.
FORMS = (RAW, ENCODED, ENCODED.lower(), "p%40ss", "ss/w:rd", "%2Fw%3Ard", "w:rd@")
ERRORING = ("closed-raw", "closed-encoded", "wrong-path", "refused")


def _leaks(text: str) -> list[str]:
    return [form for form in FORMS if form in text]


def _as_text(m: mqtt.MQTTMessage) -> tuple[str, str, bool]:
    return m.topic, m.payload.decode("utf-8", "replace"), m.retain


def _drain(received: queue.Queue, seconds: float) -> list[tuple[str, str, bool]]:
    messages, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(queue.Empty):
            messages.append(received.get(timeout=0.2))
    return messages


def _errors_of(cameras: list[dict]) -> dict[str, str | None]:
    return {c["id"]: (c["health"] or {}).get("last_error") for c in cameras}


def test_no_output_shows_the_camera_password(tmp_path: Path, rtsp_server: RtspServer, model_dir: Path) -> None:
    closed, refusing = free_port(), BasicAuthRtsp()
    urls = {
        "closed-raw": f"rtsp://admin:{RAW}@127.0.0.1:{closed}/live",
        "closed-encoded": f"rtsp://admin:{ENCODED}@127.0.0.1:{closed}/live",
        "wrong-path": f"rtsp://admin:{RAW}@127.0.0.1:{rtsp_server.port}/no-such-path",
        "refused": f"rtsp://admin:{RAW}@127.0.0.1:{refusing.port}/live",
        "online": f"rtsp://admin:{RAW}@127.0.0.1:{rtsp_server.port}/steady0",
    }
    data_dir = tmp_path / "data"  # what Citywatch writes; the config (holding the password) stays outside
    data_dir.mkdir()
    data = demo_config_dict(data_dir)
    data["cameras"] = [{"id": cid, "url": url, "analysis_fps": 1} for cid, url in urls.items()]
    prefix = f"cw-redact-{secrets.token_hex(4)}"
    data["mqtt"] = {"enabled": True, "topic_prefix": prefix}
    config_path = write_config(tmp_path, data)

    checked = subprocess.run(
        [sys.executable, "-m", "citywatch.cli", "check-config", str(config_path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert not _leaks(checked.stdout + checked.stderr), checked.stdout + checked.stderr
    assert f"rtsp://admin:***@127.0.0.1:{closed}/live" in checked.stdout

    subscriber, received = mqtt_subscriber(prefix, _as_text)
    log_path = tmp_path / "citywatch.log"
    seen: list[str] = []
    try:
        with CitywatchProcess(config_path, log_path=log_path) as server:
            deadline, cameras = time.monotonic() + 60, []
            while time.monotonic() < deadline:
                cameras = httpx.get(f"{server.base}/api/cameras", timeout=10).json()
                errors = _errors_of(cameras)
                states = {c["id"]: (c["health"] or {}).get("state") for c in cameras}
                if all(errors[cid] for cid in ERRORING) and states["online"] == "online":
                    break
                time.sleep(0.5)
            listing = json.dumps(cameras, ensure_ascii=False)
            seen.append(listing)
            errors = _errors_of(cameras)
            assert states["online"] == "online", cameras  # the raw password was parsed: the host is right
            assert all(errors[cid] for cid in ERRORING), errors
            assert "connection refused" in errors["closed-raw"] and "connection refused" in errors["closed-encoded"]
            assert "path not found" in errors["wrong-path"] and "not authorised" in errors["refused"], errors
            assert all("unknown host" not in (e or "") for e in errors.values()), errors
            assert {c["source"] for c in cameras} >= {f"rtsp://admin:***@127.0.0.1:{closed}/live"}

            sse_errors: dict[str, str] = {}
            with (
                httpx.Client(base_url=server.base, timeout=15) as client,
                client.stream("GET", "/api/stream", params={"status_every_s": 0.5}) as response,
            ):
                for line in response.iter_lines():
                    seen.append(line)
                    if line.startswith("data: ") and json.loads(line[6:])["kind"] == "cameras":
                        status = json.loads(line[6:])["data"]
                        sse_errors = {cid: status[cid]["last_error"] for cid in ERRORING}
                        if all(sse_errors.values()):
                            break
            assert all(sse_errors.values()), sse_errors

            messages = _drain(received, 14)  # status goes out at start, then every 10 s
        retained_client, retained = mqtt_subscriber(prefix, _as_text)  # a late subscriber gets the retained status
        retained_messages = _drain(retained, 2)
        retained_client.loop_stop()
        retained_client.disconnect()
    finally:
        for cid in urls:  # leave no retained message behind on the shared broker
            subscriber.publish(f"{prefix}/{cid}/status", b"", qos=1, retain=True).wait_for_publish(5)
        subscriber.loop_stop()
        subscriber.disconnect()
        refusing.close()

    statuses = {topic: json.loads(payload) for topic, payload, _ in messages if topic.endswith("/status")}
    assert all(statuses.get(f"{prefix}/{cid}/status", {}).get("last_error") for cid in ERRORING), statuses
    assert {topic for topic, _, retain in retained_messages if retain} >= {f"{prefix}/{cid}/status" for cid in urls}
    seen += [payload for _, payload, _ in messages + retained_messages]
    log = log_path.read_text(encoding="utf-8", errors="replace")
    assert "connection refused" in log and "not authorised" in log, log[-3000:]  # the log did name the errors
    for text in [*seen, log]:
        assert not _leaks(text), text[:2000]
    stored = {path: path.read_bytes() for path in data_dir.rglob("*") if path.is_file()}
    assert any(path.name.startswith("citywatch.db") for path in stored), sorted(stored)
    for path, content in stored.items():
        leaked = [form for form in FORMS if form.encode() in content]
        assert not leaked, f"{path} holds {leaked}"
    with contextlib.closing(sqlite3.connect(data_dir / "citywatch.db")) as db:
        sources = dict(db.execute("SELECT id, source FROM cameras"))
    assert sources["wrong-path"] == f"rtsp://admin:***@127.0.0.1:{rtsp_server.port}/no-such-path"
