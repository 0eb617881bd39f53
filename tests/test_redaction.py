"""Camera passwords never leak: parsing a URL whose password holds `@`, `/` or `:`, the one
redactor on many shapes, real FFmpeg errors, the health snapshot, the log filter, MQTT payloads,
`check-config`, and a real FFmpeg client authenticating with such a password (a small RTSP server
on a socket that asks for Basic credentials and records them)."""

from __future__ import annotations

import io
import json
import logging
import queue
import secrets
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from citywatch import redaction
from citywatch.cli import main
from citywatch.config import (
    CameraConfig,
    CitywatchConfig,
    MqttConfig,
    WebhookConfig,
    normalise_source_url,
    split_source_url,
)
from citywatch.publish import Publisher
from tests.rtsp.basic_auth import BasicAuthRtsp
from tests.support import free_port, mqtt_subscriber, write_config
from vision.streams import StreamHealth, StreamReader, StreamState, health_snapshot, redact_url
from vision.streams.source import SourceError, explain, host_of, open_container, redact_text, url_secrets

RAW = "p@ss/w:rd"
ENCODED = "p%40ss%2Fw%3Ard"
#: Every form of the password, and pieces a half-parsed URL would let out.
FORMS = (RAW, ENCODED, ENCODED.lower(), "p%40ss", "ss/w:rd", "%2Fw%3Ard", "w:rd@")


def _clean(text: str) -> bool:
    return not any(form in text for form in FORMS)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"rtsp://admin:{RAW}@10.0.0.5:554/live", ("rtsp://", "admin", RAW, "10.0.0.5:554/live")),
        (f"rtsp://admin:{ENCODED}@10.0.0.5/live", ("rtsp://", "admin", ENCODED, "10.0.0.5/live")),
        ("rtsp://admin:pa?ss#x@cam.local/s?a=1", ("rtsp://", "admin", "pa?ss#x", "cam.local/s?a=1")),
        ("rtsp://admin@cam/live", ("rtsp://", "admin", None, "cam/live")),
        ("rtsp://admin:@cam", ("rtsp://", "admin", "", "cam")),
        ("rtsp://u:p@[fe80::1]:554/x", ("rtsp://", "u", "p", "[fe80::1]:554/x")),
        ("http://me@corp.cn:pw@cam:8080/mjpg", ("http://", "me@corp.cn", "pw", "cam:8080/mjpg")),
        ("rtsp://cam/live@main", None),  # an @ in a path, no credentials
        ("rtsp://10.0.0.5:554/stream1", None),
        ("../shared/media/vtest.avi", None),
        ("file:///data/a@b.avi", None),
    ],
)
def test_split_source_url_takes_the_userinfo_up_to_the_last_at(url: str, expected: object) -> None:
    assert split_source_url(url) == expected


def test_the_config_normalises_the_url_to_the_form_ffmpeg_parses() -> None:
    assert normalise_source_url(f"rtsp://admin:{RAW}@10.0.0.5:554/live") == f"rtsp://admin:{ENCODED}@10.0.0.5:554/live"
    once = normalise_source_url(f"rtsp://admin:{ENCODED}@10.0.0.5/live")
    assert once == f"rtsp://admin:{ENCODED}@10.0.0.5/live" and normalise_source_url(once) == once
    assert normalise_source_url("rtsp://admin:50%off@cam/x") == "rtsp://admin:50%25off@cam/x"
    for url in ("rtsp://admin:S3cr3t@10.0.0.5/x", "rtsp://cam/live@main", "../media/a@b.avi", "rtsp://u@h/x"):
        assert normalise_source_url(url) == url
    camera = CameraConfig(id="gate", url=f"rtsp://admin:{RAW}@10.0.0.5:554/live")
    assert camera.url == f"rtsp://admin:{ENCODED}@10.0.0.5:554/live"


@pytest.mark.parametrize(
    "url",
    [
        f"rtsp://admin:{RAW}@10.0.0.5:554/live",
        f"rtsp://admin:{ENCODED}@10.0.0.5:554/live",
        f"rtsp://admin:{ENCODED.lower()}@10.0.0.5:554/live",
        f"rtsps://admin:{RAW}@cam.example/a/b?channel=1",
        f"http://admin:{RAW}@[fe80::1]:8080/mjpg",
    ],
)
def test_redact_url_keeps_user_and_host_and_drops_every_form_of_the_password(url: str) -> None:
    shown = redact_url(url)
    assert _clean(shown), shown
    assert "admin:***@" in shown and shown.split("@", 1)[1] == url.rsplit("@", 1)[1]


def test_redact_text_masks_urls_inside_error_texts_and_known_secrets_anywhere() -> None:
    texts = [
        f"[Errno 111] Connection refused: 'rtsp://admin:{RAW}@127.0.0.1:1/x'",
        f'open "rtsp://admin:{ENCODED}@127.0.0.1:1/x", then "http://u:{RAW}@h/y" (twice)',
        f"cannot open rtsp://admin:{RAW}@cam/live: unknown host",
    ]
    for text in texts:
        assert _clean(redact_text(text)), redact_text(text)
        assert "://admin:***@" in redact_text(text) or "://u:***@" in redact_text(text)
    secret_set = url_secrets(f"rtsp://admin:{ENCODED}@cam/x")
    assert {RAW, ENCODED, ENCODED.lower()} <= secret_set
    bare = f"auth admin:{ENCODED} rejected; retry admin:{RAW}; path ?{ENCODED.lower()}"  # no URL shape
    assert _clean(redact_text(bare, secret_set)), redact_text(bare, secret_set)
    assert redact_text("rtsp://10.0.0.5/x, no secret", secret_set) == "rtsp://10.0.0.5/x, no secret"


def test_host_of_and_a_real_ffmpeg_error_with_the_password_in_the_url() -> None:
    """FFmpeg writes the whole URL into its error; a raw `/` in the password made the old parser
    see the host 'admin' (and report an unknown host); the URL is now opened in its encoded form."""
    closed = free_port()
    assert host_of(f"rtsp://admin:{RAW}@127.0.0.1:{closed}/x") == "127.0.0.1"
    assert host_of("rtsp://admin:pa/ss@cam.local/x") == "cam.local"
    for url in (f"rtsp://admin:{RAW}@127.0.0.1:{closed}/x", f"rtsp://admin:{ENCODED}@127.0.0.1:{closed}/x"):
        with pytest.raises(SourceError) as caught:
            open_container(url, open_timeout_s=2, read_timeout_s=1)
        message = str(caught.value)
        assert _clean(message), message
        assert "connection refused" in message and "admin:***@127.0.0.1" in message and "unknown host" not in message
    with pytest.raises(SourceError) as caught:
        open_container(f"rtsp://admin:{RAW}@nohost.invalid/x", open_timeout_s=2, read_timeout_s=1)
    assert "unknown host 'nohost.invalid'" in str(caught.value) and _clean(str(caught.value))


def test_health_is_redacted_where_it_is_set_and_where_it_is_serialised() -> None:
    health = StreamHealth(secrets=url_secrets(f"rtsp://admin:{ENCODED}@cam/x"))
    health.set_state(StreamState.OFFLINE, f"read failed: auth admin:{RAW} at rtsp://admin:{ENCODED}@cam/x")
    assert health.last_error is not None and _clean(health.last_error) and "read failed" in health.last_error
    assert _clean(repr(health))  # the secrets field stays out of reprs
    health.last_error = f"someone wrote rtsp://admin:{RAW}@cam/x and {ENCODED} directly"
    snapshot = health_snapshot(health)
    assert _clean(snapshot["last_error"]) and "rtsp://admin:***@cam/x" in snapshot["last_error"]
    assert "secrets" not in snapshot
    reader = StreamReader(CameraConfig(id="gate", url=f"rtsp://admin:{RAW}@cam/x"))
    assert RAW in reader.health.secrets  # the reader knows its own camera's password


def test_the_log_filter_masks_message_args_and_traceback() -> None:
    secret = f"Pw{secrets.token_hex(4)}/@:x"
    redaction.register_secret(secret)
    redaction.install_log_redaction()
    redaction.install_log_redaction()  # idempotent
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("citywatch.test-redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("camera %s failed: %s", "gate", f"rtsp://admin:{RAW}@cam/x")
        logger.warning(f"db postgresql+psycopg://cw:{secret}@db/x and bare {secret}")
        logger.warning("as an object: %s", OSError(5, "I/O error", f"rtsp://admin:{RAW}@cam/x"))
        try:
            raise RuntimeError(f"boom rtsp://admin:{ENCODED}@cam/x {secret}")
        except RuntimeError:
            logger.exception("crashed")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert _clean(text) and secret not in text, text
    assert text.count("admin:***@cam/x") >= 3 and "RuntimeError: boom" in text and "crashed" in text


def test_config_secrets_are_registered_and_payloads_redacted() -> None:
    db_secret, mqtt_secret = f"db{secrets.token_hex(4)}", f"mq{secrets.token_hex(4)}"
    config = CitywatchConfig.model_validate(
        {
            "storage": {"database_url": f"postgresql+psycopg://cw:{db_secret}@127.0.0.1/cw"},
            "mqtt": {"enabled": True, "username": "cw", "password": mqtt_secret},
            "cameras": [{"id": "gate", "url": f"rtsp://admin:{RAW}@10.0.0.5/live"}],
        }
    )
    redaction.register_config(config)
    assert {db_secret, mqtt_secret, RAW, ENCODED} <= redaction.known_secrets()
    payload = {
        "camera_id": "gate",
        "last_error": f"{mqtt_secret} then rtsp://admin:{RAW}@10.0.0.5/live",
        "nested": [{"x": db_secret}, 3, 2.5, None, True],
    }
    clean = redaction.redact_payload(payload)
    assert clean["camera_id"] == "gate" and clean["nested"][1:] == [3, 2.5, None, True]
    dumped = repr(clean)
    assert _clean(dumped) and db_secret not in dumped and mqtt_secret not in dumped
    assert redaction.redact("plain text") == "plain text"


@pytest.mark.broker
def test_what_the_publisher_sends_is_redacted() -> None:
    """Any payload (an event, a case, a status built elsewhere) reaches the broker and the webhook
    with every URL password and every registered secret masked."""
    hook_secret = f"hk{secrets.token_hex(4)}"
    bodies: queue.Queue = queue.Queue()

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.put(self.rfile.read(int(self.headers["Content-Length"])).decode())
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook_url = f"http://cw:{hook_secret}@127.0.0.1:{server.server_address[1]}/hook"
    prefix = f"cw-redact-{secrets.token_hex(4)}"
    subscriber, received = mqtt_subscriber(prefix, lambda m: m.payload.decode())
    publisher = Publisher(MqttConfig(enabled=True, topic_prefix=prefix), [WebhookConfig(url=hook_url, kinds=["event"])])
    publisher.start()
    try:
        assert publisher.connected.wait(10)
        event = {"camera_id": "gate", "note": f"seen at rtsp://admin:{RAW}@cam/x, key {hook_secret}", "n": 7}
        assert publisher.publish("event", event)
        mqtt_payload, hook_body = received.get(timeout=10), bodies.get(timeout=10)
    finally:
        publisher.stop()
        subscriber.loop_stop()
        subscriber.disconnect()
        server.shutdown()
    for text in (mqtt_payload, hook_body):
        assert _clean(text) and hook_secret not in text, text
    assert json.loads(mqtt_payload) == {"camera_id": "gate", "note": "seen at rtsp://admin:***@cam/x, key ***", "n": 7}
    assert json.loads(hook_body)["payload"]["n"] == 7


def test_check_config_prints_urls_redacted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db_secret = f"db{secrets.token_hex(4)}/@x"
    data = {
        "detector": {"model": "yolox_nano.onnx", "model_dirs": [str(tmp_path)]},
        "storage": {"database_url": f"postgresql+psycopg://cw:{db_secret}@127.0.0.1/cw"},
        "cameras": [
            {"id": "gate", "url": f"rtsp://admin:{RAW}@10.0.0.5/live"},
            {"id": "side", "url": f"rtsp://admin:{ENCODED}@10.0.0.6/live"},
        ],
    }
    assert main(["check-config", str(write_config(tmp_path, data))]) == 0
    out = capsys.readouterr()
    printed = out.out + out.err
    assert _clean(printed) and db_secret not in printed, printed
    assert "rtsp://admin:***@10.0.0.5/live" in printed and "postgresql+psycopg://cw:***@127.0.0.1/cw" in printed


def test_ffmpeg_authenticates_with_the_password_as_configured() -> None:
    """Configured raw (`p@ss/w:rd`), the URL is normalised so FFmpeg sends exactly that password;
    the answer past authentication (404) and a refusal (401) are both reported without it."""
    server = BasicAuthRtsp(expected=f"admin:{RAW}")
    try:
        camera = CameraConfig(id="gate", url=f"rtsp://admin:{RAW}@127.0.0.1:{server.port}/live")
        with pytest.raises(SourceError) as caught:
            open_container(camera.url, open_timeout_s=3, read_timeout_s=2)
        assert server.received and set(server.received) == {f"admin:{RAW}"}
        assert "path not found" in str(caught.value) and _clean(str(caught.value)), caught.value
        wrong = CameraConfig(id="gate", url=f"rtsp://admin:x{RAW}@127.0.0.1:{server.port}/live")
        with pytest.raises(SourceError) as caught:
            open_container(wrong.url, open_timeout_s=3, read_timeout_s=2)
        assert "not authorised" in str(caught.value) and _clean(str(caught.value)), caught.value
    finally:
        server.close()


def test_explain_reads_the_error_not_the_url_it_quotes() -> None:
    """A port or path in the quoted URL (404 in :40431, 'resolve' in a host name) is not the
    reason; FFmpeg's own words and status code are."""
    refused = OSError(5, "Server returned 401 Unauthorized (authorization failed)", "rtsp://u:p@10.0.0.5:40431/live")
    assert explain(refused)[0].startswith("not authorised")
    missing = OSError(5, "Server returned 404 Not Found", "rtsp://u:p@resolver.cam:4011/x")
    assert explain(missing)[0].startswith("path not found")
    timeout = OSError(110, "Connection timed out", "rtsp://u:p@10.0.0.5:4030/refused-name")
    assert explain(timeout) == (
        "timed out ([Errno 110] Connection timed out: 'rtsp://u:***@10.0.0.5:4030/refused-name')",
        False,
    )
