"""Helpers shared by the tests and the benches: where the read-only footage and models are, config
builders, free loopback ports, servers (an app served by uvicorn in a thread, `citywatch run` or
`serve` in a subprocess), waiting for `/healthz`, and a killable TCP proxy.

Plain functions and classes, no fixtures: the fixtures live in the conftest.py files and in the
plugins tests/conftest.py names in `pytest_plugins`.

`CITYWATCH_SHARED_DIR` points at the shared folder (default: ../shared beside the repo).
"""

from __future__ import annotations

import contextlib
import os
import queue
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import httpx
import paho.mqtt.client as mqtt
import pytest
import uvicorn
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CITYWATCH_SHARED_DIR", REPO.parent / "shared")).resolve()
VTEST = SHARED / "media" / "vtest.avi"
#: A real photo (the team's on-site photo in the case tests).
DOG = SHARED / "media" / "dog.jpg"
MODEL_DIR = SHARED / "models"
#: The zone of the skeleton issue: the kerb with the parked white van, top right of vtest.avi.
KERB_ZONE = [[0.83, 0.05], [0.94, 0.05], [0.94, 0.25], [0.83, 0.25]]


# --- config builders -----------------------------------------------------------------------------


def kerb_rule(min_dwell_s: float = 20) -> dict:
    """The demo's illegal-parking rule on its `kerb` zone (vehicles only)."""
    return {
        "id": "kerb-no-parking",
        "type": "illegal_parking",
        "zones": ["kerb"],
        "labels": ["car", "truck", "bus", "motorcycle"],
        "min_dwell_s": min_dwell_s,
    }


def demo_config_dict(tmp_path: Path, **camera_overrides: object) -> dict:
    """The demo config as a dict, with storage under tmp_path and absolute media/model paths;
    like configs/demo.yaml it opens reads to callers without a token (`api.anonymous_read`)."""
    camera = {
        "id": "campus-road",
        "name": "Campus road junction",
        "district": "新华区",
        "street": "光明路街道",
        "url": str(VTEST),
        "analysis_fps": 2,
        "zones": [{"id": "kerb", "polygon": KERB_ZONE}],
        "rules": [kerb_rule()],
    }
    camera.update(camera_overrides)
    return {
        "detector": {"model": "yolox_nano.onnx", "model_dirs": [str(MODEL_DIR)]},
        "storage": {
            "database_url": f"sqlite:///{tmp_path / 'citywatch.db'}",
            "evidence_dir": str(tmp_path / "evidence"),
        },
        "api": {"anonymous_read": True},
        "cameras": [camera],
    }


def write_config(tmp_path: Path, data: dict, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# --- servers -------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(
    base: str, timeout_s: float = 60.0, process: subprocess.Popen | None = None, path: str = "/healthz"
) -> None:
    """Wait until `GET {base}{path}` answers 200; fail early if `process` (the server) exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"{base}{path}", timeout=10).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{base}{path} did not answer 200 within {timeout_s:g}s")


class ThreadServer:
    """An ASGI app served by uvicorn in a daemon thread on a free loopback port.

    `with ThreadServer(app) as server:` returns once uvicorn has started (startup done, socket
    listening); `server.base` is its URL. Leaving it stops the server (graceful shutdown 1 s)."""

    def __init__(self, app: Any, timeout_s: float = 20.0) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.timeout_s = timeout_s
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", timeout_graceful_shutdown=1)
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + self.timeout_s
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError(f"uvicorn on {self.base} exited before it started")
            if time.monotonic() > deadline:
                self.__exit__()
                raise TimeoutError(f"uvicorn on {self.base} did not start in {self.timeout_s:g} s")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


class CitywatchProcess:
    """`citywatch COMMAND --config FILE --port N [ARGS]` (`run`: pipeline and API in one process;
    `serve`: the API only) in a subprocess on a free loopback port, run from the repo.

    `with CitywatchProcess(config) as server:` returns once `/healthz` answers 200 (failing early
    if the process exits); `server.base` is its URL. Output goes to `log_path` (else nowhere).
    Leaving it terminates the process (killed after 15 s)."""

    def __init__(
        self,
        config_path: Path,
        log_path: Path | None = None,
        command: str = "run",
        args: Sequence[str] = (),
        timeout_s: float = 60.0,
    ) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.timeout_s = timeout_s
        self.log: IO[bytes] | None = open(log_path, "wb") if log_path else None  # noqa: SIM115  (closed in __exit__)
        argv = [sys.executable, "-m", "citywatch.cli", command, "--config", str(config_path), "--port", str(self.port)]
        self.process = subprocess.Popen(
            [*argv, *args],
            stdout=self.log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT if self.log else subprocess.DEVNULL,
            cwd=REPO,
        )

    def __enter__(self) -> CitywatchProcess:
        try:
            wait_healthy(self.base, self.timeout_s, self.process)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        if self.log is not None:
            self.log.close()


class TcpProxy:
    """A loopback TCP forwarder that can be killed (cutting every connection) and restarted."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = free_port()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._server: socket.socket | None = None

    def start(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            with contextlib.suppress(OSError):
                server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone does not
            server.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, server: socket.socket) -> None:
        server.settimeout(0.1)
        while self._server is server:
            try:
                client, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self._server is not server:
                client.close()
                return
            client.settimeout(None)
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def mqtt_subscriber(prefix: str, item: Callable[[mqtt.MQTTMessage], Any]) -> tuple[mqtt.Client, queue.Queue]:
    """A client of the local Mosquitto subscribed to `{prefix}/#` (SUBACK received) and the queue
    where each message arrives as `item(message)`; stop it with `loop_stop()` and `disconnect()`."""
    received: queue.Queue = queue.Queue()
    ready = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{prefix}-{secrets.token_hex(2)}")
    client.on_connect = lambda c, *_: c.subscribe(f"{prefix}/#", qos=1)
    client.on_subscribe = lambda *_: ready.set()
    client.on_message = lambda c, u, message: received.put(item(message))
    try:
        client.connect("127.0.0.1", 1883)
    except OSError as exc:
        pytest.fail(f"Mosquitto not reachable on 127.0.0.1:1883: {exc}")
    client.loop_start()
    assert ready.wait(10), "no SUBACK from the broker"
    return client, received


@contextlib.contextmanager
def running_app(config: Any, viewer: str = "wang.viewer") -> Iterator[tuple[Any, Any, str]]:
    """(app, runtime, a viewer's token): the config's cameras read by a runtime in this process
    (the real detector), its API app wired to it; stopped and closed on exit."""
    # deferred: the application's heavy parts, loaded only by the tests that run a pipeline
    from api.app import attach_pipeline, create_app
    from citywatch.detectors import load_detector
    from citywatch.domain.accounts import add_user
    from citywatch.domain.cameras import register_cameras
    from citywatch.domain.db import open_database
    from citywatch.runtime import Runtime
    from citywatch.sink import EventSink

    database = open_database(config.storage.database_url)
    register_cameras(database, config.cameras)
    with database.session() as session:
        token = add_user(session, viewer, "viewer")
    sink = EventSink.from_config(config, database)
    runtime = Runtime(config, load_detector(config.detector), sink)
    app = create_app(config, database)
    attach_pipeline(app, runtime=runtime, sink=sink)
    runtime.start()
    try:
        yield app, runtime, token
    finally:
        runtime.stop()
        sink.close()
        database.dispose()
