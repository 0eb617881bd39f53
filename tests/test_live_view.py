"""Live view over the socket: an H.264 RTSP camera of the test server remuxed (not re-encoded) to
fragmented MP4 that PyAV/ffprobe read, starting at a keyframe; tickets; the viewer limits; a slow
viewer's bounded queue; MS-MPEG4 (vtest.avi) answered as not playable in a browser."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from citywatch.config import CitywatchConfig
from citywatch.runtime import Runtime
from tests.support import VTEST, demo_config_dict, running_app
from vision.record.live import LiveCamera
from vision.record.live_viewer import LiveViewer
from vision.streams import StreamReader

pytestmark = [pytest.mark.rtsp, pytest.mark.e2e, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory, campus_rtsp: str, model_dir: Path) -> Iterator[dict[str, Any]]:
    """The campus camera (H.264 over RTSP) read by a runtime in this process, its app and a viewer token."""
    tmp = tmp_path_factory.mktemp("live")
    data = demo_config_dict(tmp, url=campus_rtsp)
    data["api"] = {"anonymous_read": False, "live_viewers": 3, "live_viewers_per_camera": 2}
    config = CitywatchConfig.model_validate(data)
    with running_app(config) as (app, runtime, token), TestClient(app) as client:
        yield {"client": client, "token": token, "runtime": runtime}


def _ticket(client: TestClient, token: str) -> str:
    answer = client.post("/api/stream/ticket", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    return answer.json()["ticket"]


def _watch(client: TestClient, ticket: str, seconds: float) -> tuple[dict[str, Any], bytes, list[bytes], list[dict]]:
    """The session message, the init segment, the fragments and the JSON messages of `seconds`."""
    fragments: list[bytes] = []
    others: list[dict] = []
    with client.websocket_connect(f"/api/cameras/campus-road/live?ticket={ticket}") as socket:
        session = socket.receive_json()
        init = socket.receive_bytes()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            message = socket.receive()
            if message.get("bytes") is not None:
                fragments.append(message["bytes"])
            elif message.get("text") is not None:
                others.append(json.loads(message["text"]))
    return session, init, fragments, others


def _refusal(client: TestClient, url: str) -> tuple[dict[str, Any], int]:
    with client.websocket_connect(url) as socket:
        error = socket.receive_json()
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
    return error, closed.value.code


def test_an_h264_camera_is_remuxed_to_fragmented_mp4_from_a_keyframe(live_app: dict[str, Any], tmp_path: Path) -> None:
    client, token = live_app["client"], live_app["token"]
    session, init, fragments, others = _watch(client, _ticket(client, token), seconds=4.0)
    assert session["kind"] == "session" and session["playable"] is True
    assert session["codec"] == "h264" and session["mime"].startswith('video/mp4; codecs="avc1.')
    assert (session["width"], session["height"]) == (768, 576)
    assert init[4:8] == b"ftyp" and b"moov" in init and b"mvex" in init  # fragmented: movie extends
    assert len(fragments) >= 20  # 10 fps for 4 s, one packet per fragment
    assert all(fragment[4:8] == b"moof" for fragment in fragments)
    assert any(message["kind"] == "clock" and message["newest_s"] > 0 for message in others)

    path = tmp_path / "live.mp4"
    path.write_bytes(init + b"".join(fragments))
    probe = json.loads(
        subprocess.run(
            ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    (stream,) = probe["streams"]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 768, 576)
    assert "mp4" in probe["format"]["format_name"]
    with av.open(str(path), "r") as container:
        packets = [packet for packet in container.demux(video=0) if packet.size]
        assert packets[0].is_keyframe  # the viewer starts at a keyframe
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == len(packets) >= 20  # every fragment decodes: no re-encode, no gap


def test_the_socket_needs_a_one_use_ticket(live_app: dict[str, Any]) -> None:
    client, token = live_app["client"], live_app["token"]
    error, code = _refusal(client, "/api/cameras/campus-road/live")
    assert code == 4401 and "ticket" in error["detail"]
    ticket = _ticket(client, token)
    session, init, _fragments, _others = _watch(client, ticket, seconds=0.5)  # a viewer's token works
    assert session["playable"] and init[4:8] == b"ftyp"
    _error, code = _refusal(client, f"/api/cameras/campus-road/live?ticket={ticket}")  # used once already
    assert code == 4401
    assert client.post("/api/stream/ticket").status_code == 401  # no token, no ticket


def test_an_unknown_camera_and_the_viewer_limit_close_with_a_reason(live_app: dict[str, Any]) -> None:
    client, token = live_app["client"], live_app["token"]
    error, code = _refusal(client, f"/api/cameras/nowhere/live?ticket={_ticket(client, token)}")
    assert code == 4404 and "nowhere" in error["detail"]
    url = "/api/cameras/campus-road/live?ticket="
    with client.websocket_connect(url + _ticket(client, token)) as first:
        first.receive_json()
        with client.websocket_connect(url + _ticket(client, token)) as second:
            second.receive_json()
            stats = client.get("/api/live-video/stats", headers={"Authorization": f"Bearer {token}"}).json()
            assert stats["cameras"]["campus-road"]["viewers"] == 2
            error, code = _refusal(client, url + _ticket(client, token))  # live_viewers_per_camera: 2
            assert code == 4429 and error["reason"] == "camera_limit"


def test_a_slow_viewer_stays_bounded_and_skips_to_keyframes(live_app: dict[str, Any]) -> None:
    runtime: Runtime = live_app["runtime"]
    live = runtime.live.camera("campus-road")
    slow = live.join(LiveViewer("campus-road", max_messages=5))  # never read
    try:
        started_s = live.newest_s or 0.0
        time.sleep(4.0)
        assert slow.queued_bytes <= slow.max_bytes
        assert len(slow.take()) <= 5 + 2  # its queue (plus the session message and init segment)
        assert slow.drops >= 20  # 10 fps for 4 s, beyond 5 fragments: dropped and counted
        assert (live.newest_s or 0.0) - started_s >= 3.0  # the camera's reader kept its pace
    finally:
        live.leave(slow)


def test_ms_mpeg4_is_answered_as_not_playable_in_a_browser(tmp_path: Path) -> None:
    config = CitywatchConfig.model_validate(demo_config_dict(tmp_path, url=str(VTEST)))
    live = LiveCamera("campus-road")
    reader = StreamReader(config.cameras[0], speed="fast", packet_tap=live.tap)
    frames = reader.frames()
    next(frames)
    viewer = live.join()
    reader.stop()
    (message,) = viewer.take()
    assert isinstance(message, dict)
    assert message["kind"] == "session" and message["playable"] is False and message["codec"].startswith("msmpeg4")
    assert "not playable in a browser without transcoding" in message["detail"]
    assert live.stats()["fragments"] == 0  # nothing was remuxed
