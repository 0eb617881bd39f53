"""The analysis pool: a few threads analyse the frames of many live cameras.

A live camera's reader thread puts its newest frame into its `LatestFrameSlot`; instead of one
waiting consumer thread per camera (hundreds of threads that mostly sleep, and contend for the GIL
when they wake), the slot tells the pool, which queues the camera once and hands it to the next
free thread. One camera is analysed by one thread at a time, in frame order, so its pipeline needs
no lock; a camera whose slot closed (its reader ended) gets `on_closed` once, after its last frame.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from vision.frames import Frame
from vision.streams.slot import LatestFrameSlot

log = logging.getLogger(__name__)


class Served:
    """One camera served by the pool: its slot, what to do with a frame, at its end, on a failure."""

    def __init__(
        self,
        pool: AnalysisPool,
        slot: LatestFrameSlot,
        analyse: Callable[[Frame], None],
        on_closed: Callable[[], None],
        on_error: Callable[[Exception], None],
    ):
        self.slot = slot
        self.done = False
        self._pool = pool
        self._analyse, self._on_closed, self._on_error = analyse, on_closed, on_error
        self._lock = threading.Lock()
        self._scheduled = False

    def notify(self) -> None:
        """The slot has a frame or closed: queue this camera unless it is queued or running."""
        with self._lock:
            if self._scheduled or self.done:
                return
            self._scheduled = True
        self._pool.queue.put(self)

    def turn(self) -> None:
        """Analyse the waiting frame (pool thread); then queue again, finish, or go idle."""
        frame = self.slot.take()
        if frame is not None and not self.done:
            try:
                self._analyse(frame)
            except Exception as exc:  # one camera's failure must never stop the others
                self.done = True
                self._call(self._on_error, exc)
        again = closing = False
        with self._lock:
            if not self.done and self.slot.ready:
                again = True  # stays scheduled
            else:
                self._scheduled = False
                if not self.done and self.slot.closed:
                    self.done = closing = True
        if again:
            self._pool.queue.put(self)
        elif closing:
            self._call(self._on_closed)
        if self.done:
            self._pool.mark_done()

    @staticmethod
    def _call(callback: Callable[..., None], *args: object) -> None:
        try:
            callback(*args)
        except Exception:
            log.exception("analysis pool: a camera's callback failed")


class AnalysisPool:
    """`threads` threads serving every slot given to `serve`.

    Example:
        >>> pool = AnalysisPool(threads=2).start()
        >>> pool.serve(reader.start(), analyse=handle, on_closed=finish, on_error=report)  # doctest: +SKIP
        >>> pool.close()
    """

    def __init__(self, threads: int, name: str = "analysis"):
        self.threads = max(1, threads)
        self.name = name
        self.queue: queue.SimpleQueue[Served | None] = queue.SimpleQueue()
        self.served: list[Served] = []
        self._done = threading.Condition()
        self._threads: list[threading.Thread] = []

    def start(self) -> AnalysisPool:
        for index in range(self.threads):
            thread = threading.Thread(target=self._run, name=f"{self.name}-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def serve(
        self,
        slot: LatestFrameSlot,
        analyse: Callable[[Frame], None],
        on_closed: Callable[[], None] = lambda: None,
        on_error: Callable[[Exception], None] = lambda _exc: None,
    ) -> Served:
        """Serve `slot` from now on (frames already waiting are served at once)."""
        served = Served(self, slot, analyse, on_closed, on_error)
        self.served.append(served)
        slot.on_ready = served.notify
        if slot.ready or slot.closed:
            served.notify()
        return served

    def mark_done(self) -> None:
        with self._done:
            self._done.notify_all()

    def wait_done(self, timeout: float | None = None) -> bool:
        """Wait until every served camera has finished (its slot closed and drained, or failed)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._done:
            while not all(served.done for served in self.served):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._done.wait(remaining if remaining is not None else 1.0)
        return True

    def close(self, timeout: float = 15.0) -> None:
        """Let the served cameras finish (up to `timeout`), then end the threads."""
        self.wait_done(timeout)
        for _ in self._threads:
            self.queue.put(None)
        for thread in self._threads:
            thread.join(timeout=5)

    def _run(self) -> None:
        while (served := self.queue.get()) is not None:
            served.turn()
