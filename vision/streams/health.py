"""Camera health: the one `StreamState` vocabulary, the counters a reader keeps, and their one
JSON form (`health_snapshot`) used by the API, the console, MQTT status and metrics alike.

An error text is redacted where it is set (`StreamHealth.set_state`, with the camera's own
password forms in `secrets`) and again where it is serialised, so no output shows a password."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from vision.streams.source import redact_text


class StreamState(StrEnum):
    """The state of one camera's feed, as operators see it."""

    CONNECTING = "connecting"
    ONLINE = "online"
    STALLED = "stalled"  # connection open, no video
    OFFLINE = "offline"  # unreachable for now; the reader keeps retrying
    ERROR = "error"  # a fault a retry will not fix (unknown host, wrong path, not video)
    ENDED = "ended"  # a file source that played to its end


@dataclass
class StreamHealth:
    """What an operator needs to know about one camera's feed; updated by its reader.

    Counters: `frames_in` packets received, `frames_decoded` frames decoded, `frames_sampled`
    frames handed out by the reader, `frames_analysed` frames the consumer analysed (it calls
    `mark(analysed=1)`), `frames_dropped` stale frames replaced in a `LatestFrameSlot`,
    `late_reads` read timeouts put down to the process's own lateness (not stalls).
    `secrets`: the forms of the camera's password (`url_secrets`), masked in every error text.

    Example:
        >>> health = StreamHealth(secrets=frozenset({"S3cr3t"}))
        >>> health.set_state(StreamState.OFFLINE, "refused: admin:S3cr3t@cam")
        >>> health.last_error
        'refused: admin:***@cam'
    """

    state: StreamState = StreamState.CONNECTING
    state_since_wall_s: float = field(default_factory=time.time)
    last_frame_wall_s: float | None = None
    last_frame_stream_s: float | None = None
    frames_in: int = 0
    frames_decoded: int = 0
    frames_sampled: int = 0
    frames_analysed: int = 0
    frames_dropped: int = 0
    reconnects: int = 0
    late_reads: int = 0
    last_error: str | None = None
    last_error_wall_s: float | None = None
    width: int | None = None
    height: int | None = None
    decode: str | None = None
    keyframe_interval_s: float | None = None
    secrets: frozenset[str] = field(default=frozenset(), repr=False)
    _window: deque[tuple[float, int, int, int]] = field(default_factory=deque, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._window.append((time.monotonic(), 0, 0, 0))

    def mark(self, decoded: int = 0, analysed: int = 0) -> None:
        """Count decoded frames (reader) and analysed frames (consumer)."""
        self.frames_decoded += decoded
        self.frames_analysed += analysed

    def set_state(self, state: StreamState, error: str | None = None) -> None:
        """Change state (and record an error text when given, passwords masked)."""
        if state != self.state:
            self.state = state
            self.state_since_wall_s = time.time()
        if error is not None:
            self.last_error, self.last_error_wall_s = self.redact(error), time.time()

    def redact(self, text: str) -> str:
        """`text` without any URL password or any form of this camera's password."""
        return redact_text(text, self.secrets)

    def rates(self, now: float | None = None) -> tuple[float, float]:
        """(input fps, analysed fps) over roughly the last ten seconds."""
        input_fps, _, analysed_fps = self.all_rates(now)
        return input_fps, analysed_fps

    def all_rates(self, now: float | None = None) -> tuple[float, float, float]:
        """(input, sampled, analysed) frames per second over roughly the last ten seconds.

        Analysed falls back to sampled when no consumer counts analysed frames."""
        now = time.monotonic() if now is None else now
        with self._lock:
            current = (now, self.frames_in, self.frames_sampled, self.frames_analysed)
            if now - self._window[-1][0] >= 0.5:
                self._window.append(current)
            while len(self._window) > 2 and now - self._window[1][0] >= 10.0:
                self._window.popleft()
            t0, i0, s0, a0 = self._window[0]
        span = now - t0
        if span <= 0:
            return 0.0, 0.0, 0.0
        sampled = (current[2] - s0) / span
        analysed = (current[3] - a0) / span if self.frames_analysed else sampled
        return (current[1] - i0) / span, sampled, analysed


def health_snapshot(health: StreamHealth, now_wall_s: float | None = None) -> dict[str, Any]:
    """A JSON-ready view of one camera's health for `GET /api/cameras` and `/metrics`.

    Keys: state, state_since (epoch s), last_frame_at (epoch s or None), last_frame_age_s,
    stream_s, input_fps, sampled_fps, analysed_fps, frames_in, frames_decoded, frames_sampled,
    frames_analysed, frames_dropped, reconnects, late_reads, last_error, last_error_at, width, height,
    decode (effective strategy), keyframe_interval_s. Pure: reads `health`, changes only its
    rate window. `last_error` is redacted here again, whoever set it.
    """
    now_wall_s = time.time() if now_wall_s is None else now_wall_s
    input_fps, sampled_fps, analysed_fps = health.all_rates()
    last = health.last_frame_wall_s
    return {
        "state": str(health.state),
        "state_since": health.state_since_wall_s,
        "last_frame_at": last,
        "last_frame_age_s": None if last is None else round(max(0.0, now_wall_s - last), 3),
        "stream_s": health.last_frame_stream_s,
        "input_fps": round(input_fps, 2),
        "sampled_fps": round(sampled_fps, 2),
        "analysed_fps": round(analysed_fps, 2),
        "frames_in": health.frames_in,
        "frames_decoded": health.frames_decoded,
        "frames_sampled": health.frames_sampled,
        "frames_analysed": health.frames_analysed,
        "frames_dropped": health.frames_dropped,
        "reconnects": health.reconnects,
        "late_reads": health.late_reads,
        "last_error": None if health.last_error is None else health.redact(health.last_error),
        "last_error_at": health.last_error_wall_s,
        "width": health.width,
        "height": health.height,
        "decode": health.decode,
        "keyframe_interval_s": health.keyframe_interval_s,
    }
