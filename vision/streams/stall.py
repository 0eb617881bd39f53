"""Telling a camera's stall from the process's own lateness, and bounding connects.

A read that waited `timeout` for video is a camera stall only when the camera, not this process,
was late: under CPU pressure (hundreds of cameras on two cores, other work on the box) a reader
thread can be scheduled seconds late, and a raw wall-clock gap would then call a healthy camera
stalled and reconnect it. `is_stall` is the pure judgement; `LatenessMonitor` measures how late
the process itself runs (one ticking thread per runtime); a `Gate` limits how many cameras open
at once (a restart or a server coming back does not become a reconnect storm) and how many decode
at once (cameras in step deliver their keyframes in the same instant: hundreds of runnable decoding
threads on two cores would starve everything else in the process, the API first).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


def is_stall(gap_s: float, timeout_s: float, lateness_s: float) -> bool:
    """Whether a read that has waited `gap_s` since the camera's last packet is a camera stall:
    the gap, less the process's own scheduling lateness over the same time (`lateness_s`, never
    counted below zero), still reaches the read timeout.

    Example:
        >>> is_stall(4.2, 2.0, 0.1)  # the camera sent nothing for 4 s while the process ran on time
        True
        >>> is_stall(4.2, 2.0, 3.5)  # the process itself was 3.5 s late: not the camera's fault
        False
    """
    return gap_s - max(0.0, lateness_s) >= timeout_s


class LatenessMonitor:
    """How late this process runs: a daemon thread sleeps `tick_s` at a time and records by how
    much each wake-up overshot (the time the OS or the GIL kept it waiting). `lateness(since)` is
    the summed overshoot of the ticks after `since` (monotonic seconds), over at most `keep_s`.
    Every `check_every` ticks it calls the watchers (`watch`): the live readers' stall checks, so a
    stall shows within about the read timeout even while FFmpeg's socket timeout is held off by
    stray bytes (RTCP reports) on the connection.

    Example:
        >>> monitor = LatenessMonitor(tick_s=0.05).start()
        >>> monitor.lateness(time.monotonic() - 1.0) >= 0.0
        True
        >>> monitor.stop()
    """

    def __init__(self, tick_s: float = 0.1, keep_s: float = 120.0, clock: Callable[[], float] = time.monotonic):
        self.tick_s = tick_s
        #: The monotonic clock the ticks and `lateness(since)` are on (readers measure gaps with it).
        self.clock = clock
        self._ticks: deque[tuple[float, float]] = deque(maxlen=max(1, int(keep_s / tick_s)))
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._watchers: list[Callable[[], None]] = []
        self.check_every = max(1, round(0.5 / tick_s))

    def watch(self, check: Callable[[], None]) -> None:
        """Call `check` about every half second from the monitor's thread (until `unwatch`)."""
        with self._lock:
            self._watchers.append(check)

    def unwatch(self, check: Callable[[], None]) -> None:
        with self._lock:
            if check in self._watchers:
                self._watchers.remove(check)

    def start(self) -> LatenessMonitor:
        """Start ticking (once); returns self."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="lateness-monitor", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def record(self, at_s: float, late_s: float) -> None:
        """Note one wake-up at `at_s` that came `late_s` after it was due (the ticking thread's job;
        public so the judgement can be driven without waiting)."""
        with self._lock:
            self._ticks.append((at_s, max(0.0, late_s)))

    def lateness(self, since_s: float) -> float:
        """Summed lateness of the wake-ups after `since_s`, including the tick now overdue."""
        now = self.clock()
        with self._lock:
            total = sum(late for at, late in self._ticks if at > since_s)
            last = self._ticks[-1][0] if self._ticks else None
        if self._thread is not None and last is not None:  # the tick that should have come by now
            total += max(0.0, now - last - self.tick_s)
        return total

    def _run(self) -> None:
        due = self.clock() + self.tick_s
        ticks = 0
        while not self._stop.wait(max(0.0, due - self.clock())):
            now = self.clock()
            self.record(now, now - due)
            due = now + self.tick_s
            ticks += 1
            if ticks % self.check_every == 0:
                with self._lock:
                    watchers = list(self._watchers)
                for check in watchers:
                    try:
                        check()
                    except Exception:
                        log.exception("stall check failed")


class Gate:
    """At most `limit` cameras inside at once (a bounded semaphore): around opening a source, and
    around decoding and converting a sampled frame. Waiters sleep; one is woken per leaver.

    Example:
        >>> gate = Gate(8)
        >>> with gate.inside():
        ...     pass  # open_container(...), or decode + convert
    """

    def __init__(self, limit: int):
        self.limit = limit
        self._semaphore = threading.BoundedSemaphore(limit)

    @contextmanager
    def inside(self) -> Iterator[None]:
        with self._semaphore:
            yield
