"""Events: what the rules decided, as records, and the sink that makes them durable.

A camera's pipeline produces `EventRecord`s (a triggered rule with its evidence images as JPEG
bytes) and `EventEnd`s (the stay behind an event is over). `EventSink` writes the evidence files
first, durably, and only then commits the event row, so no event ever points at a missing photo.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from api.db import Database
from api.models import Event
from citywatch.config import CameraConfig
from vision.evidence import write_durably

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class EventEnd:
    """The stay behind event `uid` ended at stream time `ended_s`."""

    uid: str
    camera_id: str
    ended_s: float
    duration_s: float


def event_payload(row: Event) -> dict[str, Any]:
    """The JSON-ready description of a stored event (used by `replay --json` and publishers)."""
    return {
        "id": row.id,
        "uid": row.uid,
        "type": row.type,
        "camera_id": row.camera_id,
        "rule_id": row.rule_id,
        "zone_id": row.zone_id,
        "label": row.label,
        "track_id": row.track_id,
        "first_seen_s": round(row.first_seen_s, 3),
        "triggered_s": round(row.triggered_s, 3),
        "dwell_s": round(row.triggered_s - row.first_seen_s, 3),
        "score": round(row.score, 4) if row.score is not None else None,
        "box": [round(v, 1) for v in row.box] if row.box else None,
        "snapshot": row.snapshot_path,
        "evidence": row.evidence,
        "occurred_at": row.occurred_at.isoformat() if row.occurred_at else None,
    }


class EventSink:
    """Writes evidence, then the event row; calls `listeners` with the stored payload."""

    def __init__(self, database: Database, evidence_dir: str | Path):
        self.database = database
        self.evidence_dir = Path(evidence_dir)
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self._lock = threading.Lock()

    def evidence_path(self, record: EventRecord, kind: str) -> Path:
        day = datetime.fromtimestamp(record.occurred_wall_s, UTC).strftime("%Y%m%d")
        return self.evidence_dir / record.camera_id / day / f"{record.uid}-{kind}.jpg"

    def record(self, record: EventRecord) -> dict[str, Any]:
        """Persist one event: evidence files first, then the row. Returns its payload."""
        evidence = []
        for kind, data in record.images.items():
            path = write_durably(self.evidence_path(record, kind), data)
            evidence.append({"kind": kind, "path": str(path)})
        snapshot = next((e["path"] for e in evidence if e["kind"] == "trigger"), None)
        row = Event(
            uid=record.uid,
            type=record.type,
            camera_id=record.camera_id,
            rule_id=record.rule_id,
            zone_id=record.zone_id,
            label=record.label,
            track_id=record.track_id,
            first_seen_s=record.first_seen_s,
            triggered_s=record.triggered_s,
            score=record.score,
            box=list(record.box) if record.box else None,
            snapshot_path=snapshot,
            evidence=evidence,
            occurred_at=datetime.fromtimestamp(record.occurred_wall_s, UTC),
        )
        with self._lock, self.database.session() as session:
            session.add(row)
            session.flush()
            payload = event_payload(row)
        for listener in self.listeners:
            try:
                listener(payload)
            except Exception:
                log.exception("event listener failed")
        return payload

    def end(self, end: EventEnd) -> None:
        """Record when the stay behind an event ended, and its total duration."""
        with self._lock, self.database.session() as session:
            row = session.scalars(select(Event).where(Event.uid == end.uid)).first()
            if row is not None:
                row.ended_s = end.ended_s
                row.duration_s = end.duration_s


def redact_url(url: str) -> str:
    """A source URL without its password (rtsp://user:***@host/...)."""
    if "://" not in url or "@" not in url.split("://", 1)[1].split("/", 1)[0]:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.split("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


def register_cameras(database: Database, cameras: list[CameraConfig]) -> None:
    """Insert or update the configured cameras and their zones so events and cases can reference them."""
    from api.models import Camera, Zone

    with database.session() as session:
        for camera in cameras:
            row = session.get(Camera, camera.id) or Camera(id=camera.id)
            row.name, row.district, row.street = camera.name, camera.district, camera.street
            row.source, row.enabled = redact_url(camera.url), camera.enabled
            session.add(row)
            session.flush()
            for zone in camera.zones:
                zone_row = session.get(Zone, (camera.id, zone.id)) or Zone(camera_id=camera.id, id=zone.id)
                zone_row.name, zone_row.polygon = zone.name or "", [list(p) for p in zone.polygon]
                session.add(zone_row)
