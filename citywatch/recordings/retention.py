"""Retention and quota, as a pure choice: which recordings to delete, oldest unprotected first.

`choose_deletions` takes every recording (camera, kind, start, bytes, protected) and the policy (days
kept per camera and kind, the byte quota, the bytes the disk must still gain) and returns what to
delete: first everything past its camera's retention for its kind, then the oldest remaining
unprotected recordings until the quota and the free-space floor hold. A protected recording (cited
by a case that is not closed) is never chosen, whatever the quota says. `cited` says which
continuous segments an open case cites: those that overlap the time its events were on screen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

Kind = Literal["segment", "clip", "export"]


@dataclass(frozen=True)
class Recording:
    """One file of the recordings directory as retention sees it."""

    key: str
    camera_id: str
    kind: Kind
    start: datetime
    bytes: int
    protected: bool = False
    #: A segment in which the analysis saw a watched object (kept `motion_days` where set).
    motion: bool = False


@dataclass(frozen=True)
class Retain:
    """Days one camera keeps each kind (exports follow their case, never age out while protected)."""

    clips_days: float = 30.0
    continuous_days: float = 3.0
    motion_days: float | None = None

    def days(self, kind: Kind, motion: bool = False) -> float:
        """Days `kind` is kept (an export past its open case: like a clip); a segment with
        activity keeps `motion_days` when that is longer."""
        if kind == "segment":
            return max(self.continuous_days, self.motion_days or 0.0) if motion else self.continuous_days
        return self.clips_days


@dataclass(frozen=True)
class Window:
    """The wall time an event of an open case was on screen (a clip's span): it cites every
    continuous segment of its camera that overlaps it."""

    camera_id: str
    start: datetime
    end: datetime


def event_window(
    camera_id: str,
    occurred_at: datetime,
    *,
    first_seen_s: float,
    triggered_s: float,
    ended_s: float | None,
    pre_s: float,
    post_s: float,
) -> Window:
    """From `pre_s` before the object was first seen to `post_s` after it left (or after the
    trigger, while it stays): what an operator looking back at the event wants to see."""
    before = max(0.0, triggered_s - first_seen_s) + pre_s
    after = max(0.0, (ended_s if ended_s is not None else triggered_s) - triggered_s) + post_s
    return Window(camera_id, occurred_at - timedelta(seconds=before), occurred_at + timedelta(seconds=after))


def cited(camera_id: str, start: datetime, end: datetime, windows: Iterable[Window]) -> bool:
    """Whether a segment of `camera_id` over [start, end) overlaps any of `windows`."""
    return any(w.camera_id == camera_id and w.start < end and start < w.end for w in windows)


@dataclass(frozen=True)
class Deletion:
    """A recording to delete, and why (`expired`, `quota` or `disk`)."""

    recording: Recording
    reason: str


def choose_deletions(
    recordings: Iterable[Recording],
    *,
    now: datetime,
    retain: Mapping[str, Retain],
    max_bytes: int,
    free_bytes: int | None = None,
    floor_bytes: int = 0,
) -> list[Deletion]:
    """What to delete, in order: expired ones (per camera and kind), then the oldest unprotected
    until the total is within `max_bytes` and the disk's `free_bytes` reaches `floor_bytes`."""
    ordered: Sequence[Recording] = sorted(recordings, key=lambda r: (r.start, r.key))
    default = Retain()
    chosen: list[Deletion] = []
    kept: list[Recording] = []
    for rec in ordered:
        days = retain.get(rec.camera_id, default).days(rec.kind, rec.motion)
        if not rec.protected and rec.start < now - timedelta(days=days):
            chosen.append(Deletion(rec, "expired"))
        else:
            kept.append(rec)
    total = sum(r.bytes for r in kept)
    freed = sum(d.recording.bytes for d in chosen)
    for rec in kept:
        over_quota = total > max_bytes
        short_of_disk = free_bytes is not None and free_bytes + freed < floor_bytes
        if not (over_quota or short_of_disk):
            break
        if rec.protected:
            continue
        chosen.append(Deletion(rec, "quota" if over_quota else "disk"))
        total -= rec.bytes
        freed += rec.bytes
    return chosen
