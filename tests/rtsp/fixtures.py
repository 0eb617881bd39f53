"""Run the GStreamer RTSP test server (tests/rtsp/server.py) from Python: clips, process, control.

The server runs under Debian's /usr/bin/python3 (python3-gi, gst-rtsp-server; install them with
scripts/install-system-deps.sh) as a child process, on 127.0.0.1 only. Test clips are encoded at
run time from the shared footage with ffmpeg into a temporary folder (never committed).
Used by the tests (the fixtures below, registered for every test by `pytest_plugins` in
tests/conftest.py: request them by name, do not import them) and by bench/ingest.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import free_port

SERVER_SCRIPT = Path(__file__).resolve().parent / "server.py"
SYSTEM_PYTHON = "/usr/bin/python3"


def gstreamer_missing() -> str | None:
    """Why the RTSP server cannot run here, or None when it can."""
    if shutil.which("ffmpeg") is None:
        return "ffmpeg not installed (run scripts/install-system-deps.sh)"
    if not Path(SYSTEM_PYTHON).is_file():
        return f"{SYSTEM_PYTHON} missing"
    probe = subprocess.run(
        [
            SYSTEM_PYTHON,
            "-c",
            "import gi; gi.require_version('GstRtspServer', '1.0');"
            "from gi.repository import Gst, GstRtspServer; Gst.init(None);"
            "assert all(Gst.ElementFactory.find(e) for e in "
            "('multifilesrc', 'h264parse', 'clocksync', 'rtph264pay'))",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if probe.returncode != 0:
        return "GStreamer RTSP server not usable (run scripts/install-system-deps.sh): " + probe.stderr[-300:]
    return None


def make_clip(
    source: Path,
    out: Path,
    *,
    width: int,
    height: int,
    fps: int,
    gop: int,
    seconds: float,
    bitrate: str = "800k",
    speedup: float = 1.0,
) -> Path:
    """Encode `source` to an Annex-B H.264 file the server can loop (no B-frames, headers on
    every keyframe). `speedup` plays the source faster so every output frame differs."""
    if out.is_file():
        return out
    filters = (
        f"setpts=PTS/{speedup},fps={fps},scale={width}:{height}"
        if speedup != 1.0
        else (f"fps={fps},scale={width}:{height}")
    )
    tmp = out.with_suffix(".part.h264")
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-i",
            str(source),
            "-t",
            str(seconds),
            "-an",
            "-vf",
            filters,
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-bf",
            "0",
            "-g",
            str(gop),
            "-keyint_min",
            str(gop),
            "-sc_threshold",
            "0",
            "-b:v",
            bitrate,
            "-maxrate",
            bitrate,
            "-bufsize",
            bitrate,
            "-x264-params",
            "repeat-headers=1",
            "-f",
            "h264",
            str(tmp),
        ],
        check=True,
        timeout=600,
    )
    tmp.rename(out)
    return out


class RtspServer:
    """One server process serving `paths` ({name: (file, fps)}) on 127.0.0.1:`port`."""

    def __init__(self, paths: dict[str, tuple[Path, int]], port: int = 0):
        self.paths = paths
        self.port = port
        self.proc: subprocess.Popen[str] | None = None

    def url(self, name: str) -> str:
        return f"rtsp://127.0.0.1:{self.port}/{name}"

    def start(self, timeout: float = 20.0) -> RtspServer:
        """Start the process and wait until it listens (retrying a port still held after a kill)."""
        deadline = time.monotonic() + timeout
        while True:
            args = [SYSTEM_PYTHON, str(SERVER_SCRIPT), "--port", str(self.port)]
            for name, (location, fps) in self.paths.items():
                args += ["--path", f"{name}={location}@{fps}"]
            self.proc = subprocess.Popen(
                args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
            )
            assert self.proc.stdout is not None
            line = self.proc.stdout.readline().strip()
            if line.startswith("READY"):
                self.port = int(line.split()[1])
                return self
            self.proc.wait(timeout=5)
            if time.monotonic() > deadline:
                raise RuntimeError(f"RTSP server did not start: {line!r}")
            time.sleep(0.2)

    def _send(self, line: str) -> None:
        assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        self.proc.stdout.readline()  # "OK ..."

    def stall(self, name: str) -> None:
        """Keep connections to `name` open but send no video."""
        self._send(f"stall {name}")

    def resume(self, name: str) -> None:
        self._send(f"resume {name}")

    def kill(self) -> None:
        """Kill the process (SIGKILL: connections drop as on a crash or power loss)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def cpu_seconds(self) -> float:
        """User+system CPU seconds used so far by the server process."""
        if self.proc is None:
            return 0.0
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / 100.0

    def __enter__(self) -> RtspServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.kill()


@pytest.fixture(scope="session")
def rtsp_clips(tmp_path_factory: pytest.TempPathFactory, vtest_path: Path) -> dict[str, Path]:
    """Small test clips (CIF 352x288, 10 fps, a keyframe every second, 20 s), made once."""
    reason = gstreamer_missing()
    if reason:  # a real RTSP server, or no RTSP test: never a silent skip
        pytest.fail(reason)
    folder = tmp_path_factory.mktemp("rtsp-clips")
    return {
        "cif": make_clip(vtest_path, folder / "cif.h264", width=352, height=288, fps=10, gop=10, seconds=20),
    }


@pytest.fixture(scope="session")
def rtsp_server(rtsp_clips: dict[str, Path]) -> Iterator[RtspServer]:
    """A session-wide server with steady paths `steady0..3` and a path `stallable` for stall tests."""
    paths = {f"steady{i}": (rtsp_clips["cif"], 10) for i in range(4)}
    paths["stallable"] = (rtsp_clips["cif"], 10)
    with RtspServer(paths) as server:
        yield server


@pytest.fixture(scope="module")
def campus_rtsp(tmp_path_factory: pytest.TempPathFactory, vtest_path: Path) -> Iterator[str]:
    """vtest.avi as a D1 H.264 camera (10 fps, a keyframe a second, 40 s looping) on the RTSP
    test server: its URL."""
    reason = gstreamer_missing()
    if reason:
        pytest.fail(reason)
    clip = make_clip(
        vtest_path,
        tmp_path_factory.mktemp("clips") / "vtest-d1.h264",
        width=768,
        height=576,
        fps=10,
        gop=10,
        seconds=40,
    )
    with RtspServer({"campus": (clip, 10)}, port=free_port()) as server:
        yield server.url("campus")
