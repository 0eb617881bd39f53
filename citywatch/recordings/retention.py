"""Retention and quota, as a pure choice: which recordings to delete, oldest unprotected first.

`choose_deletions` takes every recording (camera, kind, start, bytes, protected) and the policy (days
kept per camera and kind, the byte quota, the bytes the disk must still gain) and returns what to
delete: first everything past its camera's retention for its kind, then the oldest remaining
unprotected recordings until the quota and the free-space floor hold. A protected recording (cited
by a case that is not closed) is never chosen, whatever the quota says.
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


@dataclass(frozen=True)
class Retain:
    """Days one camera keeps each kind (exports follow their case, never age out while protected)."""

    clips_days: float = 30.0
    continuous_days: float = 3.0

    def days(self, kind: Kind) -> float | None:
        """Days `kind` is kept; None for exports (kept until their case closes, then like clips)."""
        return {"segment": self.continuous_days, "clip": self.clips_days, "export": self.clips_days}[kind]


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
        days = retain.get(rec.camera_id, default).days(rec.kind)
        if not rec.protected and days is not None and rec.start < now - timedelta(days=days):
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
