"""Camera uptime: how long each camera has been observed, and how long of that it was online
(receiving frames, or a file that played to its end), sampled from the runtime's health."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from vision.streams import StreamHealth, StreamState


class UptimeTracker:
    """Samples camera health every `every_s` seconds and keeps, per camera, the seconds observed
    and the seconds it was online (receiving frames), for the console's uptime chart."""

    ONLINE = frozenset({StreamState.ONLINE, StreamState.ENDED})

    def __init__(self, health: Callable[[], dict[str, StreamHealth]], every_s: float = 5.0):
        self.health, self.every_s = health, every_s
        self.observed: dict[str, float] = {}
        self.online: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="uptime-tracker", daemon=True)

    def start(self) -> UptimeTracker:
        self.sample(0.0)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def sample(self, elapsed_s: float) -> None:
        """Credit `elapsed_s` to every camera, and to its online time when it is online now."""
        for camera_id, health in self.health().items():
            self.observed[camera_id] = self.observed.get(camera_id, 0.0) + elapsed_s
            online = health.state in self.ONLINE
            self.online[camera_id] = self.online.get(camera_id, 0.0) + (elapsed_s if online else 0.0)

    def snapshot(self) -> dict[str, dict[str, float | None]]:
        return {
            camera_id: {
                "observed_s": round(observed, 1),
                "online_s": round(self.online.get(camera_id, 0.0), 1),
                "uptime": round(self.online.get(camera_id, 0.0) / observed, 4) if observed else None,
            }
            for camera_id, observed in self.observed.items()
        }

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(self.every_s):
            now = time.monotonic()
            self.sample(now - last)
            last = now
