"""Live ingest against a real RTSP server (GStreamer, tests/rtsp/server.py): kill, stall, bad sources.

Four steady cameras read the session server for the whole module; every test checks that they
kept their frame rate while another camera failed.
"""

from __future__ import annotations

import http.server
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from citywatch.config import CameraConfig
from tests.rtsp.fixtures import RtspServer
from tests.support import free_port
from vision.streams import StreamReader, StreamState, health_snapshot

pytestmark = [pytest.mark.rtsp, pytest.mark.timeout(60)]


class Camera:
    """A reader running in its thread plus a consumer thread recording frame arrival times."""

    def __init__(self, camera_id: str, url: str, analysis_fps: float = 2.0, decode: str = "auto"):
        config = CameraConfig(id=camera_id, url=url, analysis_fps=analysis_fps, decode=decode)
        self.reader = StreamReader(config)
        self.arrivals: list[float] = []
        self.stream_times: list[float] = []
        self.states: list[tuple[float, str]] = []
        slot = self.reader.start()

        def consume() -> None:
            while not (slot.closed and self.reader.stopped):
                frame = slot.get(timeout=0.5)
                if frame is not None:
                    self.reader.health.mark(analysed=1)
                    self.arrivals.append(time.monotonic())
                    self.stream_times.append(frame.stream_s)

        self.consumer = threading.Thread(target=consume, daemon=True)
        self.consumer.start()

    @property
    def state(self) -> str:
        return self.reader.health.state

    def wait_state(self, states: tuple[str, ...], timeout: float) -> float:
        """Seconds until the camera is in one of `states`; fails after `timeout`."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.state in states:
                return time.monotonic() - start
            time.sleep(0.05)
        error = self.reader.health.last_error
        camera_id = self.reader.camera.id
        pytest.fail(f"{camera_id}: state {self.state!r} (error {error!r}), not {states} after {timeout}s")

    def frames_between(self, t0: float, t1: float) -> int:
        return sum(1 for t in self.arrivals if t0 <= t <= t1)

    def max_gap(self, t0: float, t1: float) -> float:
        times = [t0, *[t for t in self.arrivals if t0 <= t <= t1], t1]
        return max(b - a for a, b in itertools.pairwise(times))

    def stop(self) -> None:
        self.reader.stop()
        self.reader.join(5)


@pytest.fixture(scope="module")
def steady(rtsp_server: RtspServer) -> Iterator[list[Camera]]:
    """Four healthy cameras (two keyframe-only at 1 fps, two decode-all at 2 fps) for the module."""
    cams = [
        Camera(
            f"steady{i}",
            rtsp_server.url(f"steady{i}"),
            analysis_fps=1.0 if i < 2 else 2.0,
            decode="keyframes" if i < 2 else "all",
        )
        for i in range(4)
    ]
    for cam in cams:
        cam.wait_state((StreamState.ONLINE,), 10)
    time.sleep(1.5)
    yield cams
    for cam in cams:
        cam.stop()


@pytest.fixture
def others_keep_fps(steady: list[Camera]) -> Iterator[Callable[[], None]]:
    """Asserts, at the end of a test, that the steady cameras never paused during it."""
    t0 = time.monotonic()
    checked = []

    def check() -> None:
        t1 = time.monotonic()
        for cam in steady:
            fps = cam.reader.sampler.fps
            got = cam.frames_between(t0, t1)
            assert cam.state == StreamState.ONLINE, cam.reader.health.last_error
            assert got >= (t1 - t0) * fps * 0.8 - 2, f"{cam.reader.camera.id}: {got} frames in {t1 - t0:.1f}s"
            assert cam.max_gap(t0, t1) < 1.0 / fps + 1.5, f"{cam.reader.camera.id} paused"
        checked.append(True)

    yield check
    assert checked, "test forgot to check the other cameras"


def test_steady_cameras_online_at_analysis_rate(steady: list[Camera], others_keep_fps: Callable[[], None]) -> None:
    time.sleep(4)
    others_keep_fps()
    for cam in steady:
        snap = health_snapshot(cam.reader.health)
        assert snap["state"] == StreamState.ONLINE
        # a 10 fps source over a few seconds' window: +-2.5 fps allows a frame or two of window edge
        # and a moment of CPU contention from the suite on 2 cores (7.94 seen once in CI)
        assert 7.5 <= snap["input_fps"] <= 12.5, snap
        assert abs(snap["analysed_fps"] - cam.reader.sampler.fps) < 0.5, snap
        assert snap["decode"] == ("keyframes" if cam.reader.sampler.fps == 1.0 else "all")
        assert all(b > a for a, b in zip(cam.stream_times, cam.stream_times[1:], strict=False))
    keyframe_cam = steady[0].reader.health
    assert keyframe_cam.frames_decoded <= keyframe_cam.frames_in / 10 + 2  # one decode per GOP


def test_server_killed_goes_offline_then_online(
    rtsp_clips: dict[str, Path],
    others_keep_fps: Callable[[], None],
) -> None:
    server = RtspServer({"cam": (rtsp_clips["cif"], 10)}, port=free_port()).start()
    cam = Camera("victim", server.url("cam"))
    try:
        cam.wait_state((StreamState.ONLINE,), 10)
        time.sleep(1)
        server.kill()
        went_offline = cam.wait_state((StreamState.OFFLINE,), 5)
        time.sleep(3)
        assert cam.state == StreamState.OFFLINE and "refused" in (cam.reader.health.last_error or "")
        server.start()
        back = cam.wait_state((StreamState.ONLINE,), 5)
        frames_before = len(cam.arrivals)
        time.sleep(1.5)
        assert len(cam.arrivals) > frames_before
        assert cam.reader.health.reconnects >= 1
        assert all(b > a for a, b in zip(cam.stream_times, cam.stream_times[1:], strict=False))
        print(f"offline after {went_offline:.2f}s, online {back:.2f}s after restart")
    finally:
        cam.stop()
        server.kill()
    others_keep_fps()


def test_stall_detected_and_recovered(
    rtsp_server: RtspServer,
    others_keep_fps: Callable[[], None],
) -> None:
    cam = Camera("stalling", rtsp_server.url("stallable"))
    try:
        cam.wait_state((StreamState.ONLINE,), 10)
        time.sleep(1)
        rtsp_server.stall("stallable")
        detected = cam.wait_state((StreamState.STALLED,), 6)
        assert "no video" in (cam.reader.health.last_error or "")
        seen = set()
        until = time.monotonic() + 5  # reconnects during the stall keep saying `stalled`
        while time.monotonic() < until:
            seen.add(cam.state)
            time.sleep(0.05)
        assert seen == {StreamState.STALLED}, (seen, cam.reader.health.last_error)
        assert cam.reader.health.reconnects >= 1
        rtsp_server.resume("stallable")
        recovered = cam.wait_state((StreamState.ONLINE,), 8)
        print(f"stall detected after {detected:.2f}s, recovered {recovered:.2f}s after resume")
    finally:
        rtsp_server.resume("stallable")
        cam.stop()
    others_keep_fps()


@pytest.fixture
def text_http_url() -> Iterator[str]:
    """An http URL on 127.0.0.1 that serves plain text, not video."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"this is not a video stream\n" * 200)

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/status.txt"
    server.shutdown()


def test_bad_sources_report_readable_reasons(
    rtsp_server: RtspServer,
    text_http_url: str,
    tmp_path: Path,
    others_keep_fps: Callable[[], None],
) -> None:
    garbage = tmp_path / "corrupt.mp4"
    garbage.write_bytes(b"\x00\x00\x00\x20ftypisom" + bytes(range(256)) * 400)
    cases = {
        "bad-host": ("rtsp://nonexistent.invalid/x", "unknown host"),
        "refused": (f"rtsp://127.0.0.1:{free_port()}/x", "refused"),
        "wrong-path": (rtsp_server.url("no-such-path"), "not found"),
        "not-video": (text_http_url, "no camera video"),
        "corrupt": (str(garbage), "not a readable video"),
    }
    cams = {name: Camera(name, url) for name, (url, _) in cases.items()}
    try:
        for name, (_, words) in cases.items():
            cams[name].wait_state((StreamState.ERROR, StreamState.OFFLINE), 10)
            error = cams[name].reader.health.last_error or ""
            assert words in error, f"{name}: {error!r}"
            print(f"{name}: {cams[name].state}: {error}")
        time.sleep(3)  # retries go on (live sources) without disturbing anyone
        for name, cam in cams.items():
            assert cam.state in (StreamState.ERROR, StreamState.OFFLINE), name
            assert not cam.arrivals
    finally:
        for cam in cams.values():
            cam.stop()
    others_keep_fps()
