"""The latest-frame slot: a one-frame mailbox between a live reader and a slower consumer, so a
slow analysis never makes frames queue up (stale frames are dropped and counted). A consumer that
serves many slots (`vision.streams.pool.AnalysisPool`) is told through `on_ready` instead of
waiting on each slot in a thread of its own."""

from __future__ import annotations

import threading
from collections.abc import Callable

from vision.frames import Frame
from vision.streams.health import StreamHealth


class LatestFrameSlot:
    """A one-frame mailbox between a live reader and a slower consumer: `put` replaces the
    waiting frame (counting it as dropped, also into `health` when given), `get` takes the
    newest. Never grows. `on_ready`, when set, is called (outside the lock) after every `put` and
    after `close`, so one pool of consumer threads can serve many slots.

    Example:
        >>> slot = LatestFrameSlot()
        >>> slot.put(frame)  # doctest: +SKIP
        >>> slot.take()  # doctest: +SKIP
        Frame(...)
    """

    def __init__(self, health: StreamHealth | None = None, on_ready: Callable[[], None] | None = None) -> None:
        self._frame: Frame | None = None
        self._cond = threading.Condition()
        self._health = health
        self.on_ready = on_ready
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
        if self.on_ready is not None:
            self.on_ready()

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()
        if self.on_ready is not None:
            self.on_ready()

    def take(self) -> Frame | None:
        """The waiting frame without waiting, or None."""
        with self._cond:
            frame, self._frame = self._frame, None
            return frame

    @property
    def ready(self) -> bool:
        """A frame is waiting."""
        return self._frame is not None

    def get(self, timeout: float | None = None) -> Frame | None:
        """The newest frame, waiting up to `timeout`; None on timeout or when closed and empty."""
        with self._cond:
            if self._frame is None and not self.closed:
                self._cond.wait(timeout)
            frame, self._frame = self._frame, None
            return frame
