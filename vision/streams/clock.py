"""Stream time and sampling: pts made monotonic across loops and reconnects (`StreamClock`), and
the fixed stream-time grid that picks the frames to analyse (`Sampler`), so a file replayed `fast`,
`realtime` or at any factor yields the same frames as live."""

from __future__ import annotations

import math


class Sampler:
    """Picks the frames to analyse at `fps` on a fixed stream-time grid, so any replay speed
    picks the same frames."""

    def __init__(self, fps: float):
        self.fps = fps
        self._last_bucket: int | None = None

    def take(self, stream_s: float) -> bool:
        """True when `stream_s` opens a new grid cell (the first frame at or after it)."""
        bucket = math.floor(stream_s * self.fps + 1e-6)
        if self._last_bucket is not None and bucket <= self._last_bucket:
            return False
        self._last_bucket = bucket
        return True

    def retune(self, fps: float, stream_s: float | None = None) -> None:
        """Change the rate in place (a mode switch), continuing the grid from `stream_s` (the last
        sampled frame's time; None before the first frame)."""
        if abs(self.fps - fps) < 1e-9:
            return
        self.fps = fps
        if stream_s is not None and self._last_bucket is not None:
            self._last_bucket = math.floor(stream_s * fps + 1e-6)


class StreamClock:
    """Turns per-session pts seconds into monotonic stream time across loops and reconnects.

    Within a session, small backward steps (reordering) are clamped; a backward step of more than
    `max_back_s` (a pts reset or wraparound) or a forward jump of more than `max_gap_s` (a camera
    clock jump) rebases the session so that stream time continues one frame interval after the
    last value. A new session (loop, reconnect) also continues one frame interval after the last.
    A missing pts (None) is taken as one frame interval after the previous one.
    """

    def __init__(self, max_gap_s: float = 30.0, max_back_s: float = 1.0) -> None:
        self._offset = 0.0
        self._session_start: float | None = None
        self._pending = 0  # frames without pts seen before the session's first pts
        self._last_pts_s: float | None = None
        self.last: float | None = None
        self.frame_interval = 0.04
        self.max_gap_s = max_gap_s
        self.max_back_s = max_back_s
        self.rebases = 0

    def new_session(self) -> None:
        """Call when the source restarts (loop, reconnect): the next pts continues after the last."""
        if self.last is not None:
            self._offset = self.last + self.frame_interval
        self._session_start = None
        self._last_pts_s = None
        self._pending = 0

    def time_of(self, pts_s: float) -> float | None:
        """The stream time `pts_s` (this session's clock) maps to now, without moving the clock; None
        before the session's first timed frame. For packets copied aside (`vision.record`)."""
        if self._session_start is None:
            return None
        return self._offset + (pts_s - self._session_start)

    def stream_time(self, pts_s: float | None) -> float:
        """Stream time of a frame whose pts (in seconds, this session's clock) is `pts_s`."""
        if pts_s is None:
            if self._last_pts_s is None:
                t = self._offset + self._pending * self.frame_interval
                self._pending += 1
                self.last = t if self.last is None or t > self.last else self.last + 1e-3
                return self.last
            pts_s = self._last_pts_s + self.frame_interval
        if self._session_start is None:
            self._session_start = pts_s - self._pending * self.frame_interval
        self._last_pts_s = pts_s
        t = self._offset + (pts_s - self._session_start)
        last = self.last
        if last is not None:
            step = t - last
            if step > self.max_gap_s or step < -self.max_back_s:
                self._offset -= step - self.frame_interval  # reset, wrap or jump: continue smoothly
                self.rebases += 1
                t = last + self.frame_interval
            elif step <= 0:  # small reorder or repeat: never let rule timers move back
                t = last + 1e-3
        self.last = t
        return t
