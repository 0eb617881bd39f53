"""The latest-frame slot: a one-frame mailbox between a live reader and a slower consumer, so a
slow analysis never makes frames queue up (stale frames are dropped and counted)."""

from __future__ import annotations

import threading

from vision.frames import Frame
from vision.streams.health import StreamHealth


class LatestFrameSlot:
    """A one-frame mailbox between a live reader and a slower consumer: `put` replaces the
    waiting frame (counting it as dropped, also into `health` when given), `get` takes the
    newest. Never grows."""

    def __init__(self, health: StreamHealth | None = None) -> None:
        self._frame: Frame | None = None
        self._cond = threading.Condition()
        self._health = health
        self.dropped = 0
        self.closed = False

    def put(self, frame: Frame) -> None:
        with self._cond:
            if self._frame is not None:
                self.dropped += 1
                if self._health is not None:
                    self._health.frames_dropped += 1
            self._frame = frame
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def get(self, timeout: float | None = None) -> Frame | None:
        """The newest frame, waiting up to `timeout`; None on timeout or when closed and empty."""
        with self._cond:
            if self._frame is None and not self.closed:
                self._cond.wait(timeout)
            frame, self._frame = self._frame, None
            return frame
