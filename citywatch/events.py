"""Events as the pipeline produces them: a triggered rule with its evidence images (`EventRecord`)
and the end of the stay behind it (`EventEnd`). The sink (`citywatch.sink`) makes them durable."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class EventRecord:
    """A triggered rule on one camera, with its evidence (JPEG bytes keyed by kind: entry, trigger)."""

    uid: str
    type: str
    camera_id: str
    rule_id: str
    zone_id: str | None
    label: str | None
    track_id: int | None
    first_seen_s: float
    triggered_s: float
    score: float | None
    box: tuple[float, float, float, float] | None
    occurred_wall_s: float
    images: dict[str, bytes] = field(default_factory=dict, repr=False)
    #: The vehicle's plate as the stay's readings agreed on it (`{"text", "color", "confidence"}`),
    #: on events of a parking rule with `plates: true`; None when not read or not agreed.
    plate: dict[str, Any] | None = None


@dataclass(frozen=True)
class EventEnd:
    """The stay behind event `uid` ended at stream time `ended_s`."""

    uid: str
    camera_id: str
    ended_s: float
    duration_s: float
    #: Why the stay ended: `left` (the object was no longer seen), `source_ended` (the footage or
    #: the stream ended with it still there) or `rule_idle` (the rule went idle: mode, schedule).
    reason: str = "left"
    #: The plate the stay's readings agreed on by its end (read after the trigger too, while they
    #: had not agreed yet); it fills in an event stored without one.
    plate: dict[str, Any] | None = None


def clip_name(record: EventRecord) -> str:
    """Where a record's clip goes, relative to the recordings directory: <camera>/<UTC day>/<uid>.mp4."""
    day = datetime.fromtimestamp(record.occurred_wall_s, UTC).strftime("%Y%m%d")
    return f"{record.camera_id}/{day}/{record.uid}.mp4"


#: What a camera pipeline outputs.
Output = EventRecord | EventEnd
