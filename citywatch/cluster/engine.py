"""One interface to the camera engines for the API and the command line: `Engine`, what
`api.app.attach_pipeline` reads (health, detector counters, rule status, the mode holder, last
frames, placement, the cluster view), and `open_engine`, which builds the configured one:
`InlineEngine` (every camera a thread of this process) or the Ray engine (`ray_engine`).
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any, Protocol

import psutil

from citywatch.config import CitywatchConfig
from citywatch.domain import ledger
from citywatch.domain.cameras import register_cameras
from citywatch.modes import ModeHolder
from citywatch.runtime import Runtime
from citywatch.sink import EventSink
from vision.detect import DetectorSet
from vision.frames import Frame
from vision.streams import StreamHealth

log = logging.getLogger(__name__)


class Engine(Protocol):
    """What runs the cameras of a config, seen from the API."""

    modes: ModeHolder

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def health(self) -> dict[str, StreamHealth]: ...

    def detector_stats(self) -> dict[str, dict[str, int]]: ...

    def pipeline_status(self) -> dict[str, dict[str, Any]]: ...

    def latest_frame(self, camera_id: str) -> Frame | None: ...

    def placement(self) -> dict[str, dict[str, Any]]:
        """Per camera: `worker`, `node`, `host`, `pid`, `status` (assigned or unassigned)."""
        ...

    def cluster(self) -> dict[str, Any]:
        """Nodes, workers with their cameras, CPU and memory, unassigned cameras."""
        ...


class InlineEngine:
    """Every camera as threads of this process (`Runtime`): worker `inline`, node this host.

    Example:
        >>> engine = InlineEngine(Runtime(config, detector, sink))  # doctest: +SKIP
        >>> engine.placement()["campus-road"]["worker"]  # doctest: +SKIP
        'inline'
    """

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.modes = runtime.modes
        self.host = socket.gethostname()
        self._process = psutil.Process()
        self._process.cpu_percent(None)  # the first call starts the measurement

    def start(self) -> None:
        self.runtime.start()

    def stop(self) -> None:
        self.runtime.stop()

    def health(self) -> dict[str, StreamHealth]:
        return self.runtime.health()

    def detector_stats(self) -> dict[str, dict[str, int]]:
        return self.runtime.detector_stats()

    def pipeline_status(self) -> dict[str, dict[str, Any]]:
        return self.runtime.pipeline_status()

    def latest_frame(self, camera_id: str) -> Frame | None:
        return self.runtime.latest_frame(camera_id)

    def placement(self) -> dict[str, dict[str, Any]]:
        where = {"worker": "inline", "node": self.host, "host": self.host, "pid": os.getpid(), "status": "assigned"}
        return {camera_id: dict(where) for camera_id in self.runtime.workers}

    def cluster(self) -> dict[str, Any]:
        process = self._process
        cameras = sorted(self.runtime.workers)
        worker = {
            "worker": "inline",
            "node": self.host,
            "host": self.host,
            "pid": os.getpid(),
            "state": "up",
            "reason": None,
            "cameras": cameras,
            "cpu_percent": round(process.cpu_percent(None), 1),  # since the previous call: no waiting
            "rss_bytes": process.memory_info().rss,
            "restarts": 0,
            "events_stored": sum(w.events for w in self.runtime.workers.values()),
        }
        node = {"node": self.host, "host": self.host, "alive": True, "workers": ["inline"]}
        return {"engine": "inline", "nodes": [node], "workers": [worker], "unassigned": []}


def open_engine(config: CitywatchConfig, detector: DetectorSet, sink: EventSink, cwd: str | None = None) -> Engine:
    """The engine `config.cluster.engine` names, over `sink` (the one writer). The Ray engine opens
    its own detectors in each group, so `detector` is closed there."""
    if config.cluster.engine == "inline":
        return InlineEngine(Runtime(config, detector, sink))
    # deferred: Ray loads only for the ray engine, so inline needs no Ray installed
    from citywatch.cluster.ray_engine import RayEngine

    detector.close()
    return RayEngine(config, sink, ModeHolder(config, sink.database), cwd=cwd or os.getcwd())


def reload_engine(engine: Engine, config: CitywatchConfig, sink: EventSink) -> bool:
    """Apply a changed config's cameras to a running engine (`citywatch run` on SIGHUP): register
    them, give the sink their case policies, and let the Ray engine restart only the groups whose
    cameras changed (`RayEngine.reload`). False for the inline engine, which needs a restart."""
    reload = getattr(engine, "reload", None)
    if reload is None:
        log.warning("cluster.engine inline: camera changes take effect at the next start")
        return False
    register_cameras(sink.database, config.cameras)
    sink.policies = {
        (camera.id, rule.id): ledger.CasePolicy.of(rule.case) for camera in config.cameras for rule in camera.rules
    }
    reload(config)
    return True
