"""Events: what the rules decided, as records, and the sink that makes them durable.

A camera's pipeline produces `EventRecord`s (a triggered rule with its evidence images as JPEG
bytes) and `EventEnd`s (the stay behind an event is over). `EventSink` writes the evidence files
first, durably, and only then commits the event row, so no event ever points at a missing photo;
the row attaches to the open case of its camera, zone and type (or opens one). While the database
is unreachable, events wait in a local spool (`citywatch.spool`) and are replayed in order.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from api.db import Database
from api.models import Event
from citywatch.config import CameraConfig, CitywatchConfig
from citywatch.spool import Spool
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


#: Errors that mean "the database is unreachable" (spool and retry), not "this event is bad".
DB_DOWN_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError)


class EventSink:
    """Writes evidence, then the event row (attached to its case); calls `listeners` with the stored payload.

    When the database is unreachable the event (its evidence already on disk) goes to `spool`, and
    so does everything after it until a background thread has replayed the spool in order. Events
    are published (via `Database.subscribers`) only after their row is committed.
    """

    def __init__(
        self,
        database: Database,
        evidence_dir: str | Path,
        *,
        cameras: list[CameraConfig] | None = None,
        spool: Spool | str | Path | None = None,
        retry_s: float = 1.0,
    ):
        self.database = database
        self.evidence_dir = Path(evidence_dir)
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self.policies = _policies(cameras or [])
        self.spool = Spool(spool) if isinstance(spool, str | Path) else spool
        self.retry_s = retry_s
        self.publisher: Any = None
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._closed = False
        self._drainer: threading.Thread | None = None
        if self.spool is not None and len(self.spool):
            self._start_drainer()

    @classmethod
    def from_config(cls, config: CitywatchConfig, database: Database, publisher: Any = None) -> EventSink:
        """The sink of a config: its cameras' case policies, its spool file and (optionally) publisher."""
        spool = config.storage.spool_path or Path(config.storage.evidence_dir).parent / "spool.db"
        sink = cls(database, config.storage.evidence_dir, cameras=config.cameras, spool=spool)
        if publisher is not None:
            sink.publisher = publisher
            if publisher.on_commit not in database.subscribers:
                database.subscribers.append(publisher.on_commit)
        return sink

    def evidence_path(self, record: EventRecord, kind: str) -> Path:
        day = datetime.fromtimestamp(record.occurred_wall_s, UTC).strftime("%Y%m%d")
        return self.evidence_dir / record.camera_id / day / f"{record.uid}-{kind}.jpg"

    @property
    def spooled(self) -> int:
        """Entries waiting in the spool for the database."""
        return len(self.spool) if self.spool is not None else 0

    def record(self, record: EventRecord) -> dict[str, Any]:
        """Persist one event: evidence files first, then the row. Returns its payload.

        While the database is down (or older events still wait in the spool) the event is spooled
        and the returned payload has `"id": None, "spooled": True`; listeners hear of it on replay.
        """
        evidence = []
        for kind, data in record.images.items():
            path = write_durably(self.evidence_path(record, kind), data)
            evidence.append({"kind": kind, "path": str(path)})
        item = {
            "uid": record.uid,
            "type": record.type,
            "camera_id": record.camera_id,
            "rule_id": record.rule_id,
            "zone_id": record.zone_id,
            "label": record.label,
            "track_id": record.track_id,
            "first_seen_s": record.first_seen_s,
            "triggered_s": record.triggered_s,
            "score": record.score,
            "box": list(record.box) if record.box else None,
            "evidence": evidence,
            "occurred_wall_s": record.occurred_wall_s,
        }
        payload = self._write("record", item)
        if payload is None:
            return {**event_payload(_event_row(item)), "id": None, "spooled": True}
        self._notify(payload)
        return payload

    def end(self, end: EventEnd) -> None:
        """Record when the stay behind an event ended, and its total duration."""
        self._write(
            "end", {"uid": end.uid, "camera_id": end.camera_id, "ended_s": end.ended_s, "duration_s": end.duration_s}
        )

    def zone_clear(self, camera_id: str, zone_id: str, type_: str, clear_since: datetime) -> list[int]:
        """Auto-verification hook (核查): call when a rule sees its zone clear of the problem since
        `clear_since` (wall time). `handled` cases of that camera, zone and type handled at or
        before then become `verified` by `system:camera`. Returns their ids ([] if the DB is down)."""
        from api import ledger

        try:
            with self._lock, self.database.session() as session:
                return [case.id for case in ledger.zone_clear(session, camera_id, zone_id, type_, clear_since)]
        except DB_DOWN_ERRORS:
            log.warning("zone_clear(%s, %s): database unreachable; will verify on a later clear", camera_id, zone_id)
            return []

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until the spool is empty (the database took everything); True when it is."""
        deadline = time.monotonic() + timeout
        while self.spooled and time.monotonic() < deadline:
            self._wake.set()
            time.sleep(0.05)
        return not self.spooled

    def close(self) -> None:
        """Stop the replay thread (the spool keeps what is left for the next start)."""
        self._closed = True
        self._wake.set()
        if self._drainer is not None:
            self._drainer.join(5)

    def _write(self, kind: str, item: dict[str, Any]) -> dict[str, Any] | None:
        with self._lock:
            if self.spool is not None and len(self.spool):
                self.spool.append(kind, item)
                self._start_drainer()
                return None
            try:
                return self._store(kind, item)
            except DB_DOWN_ERRORS as exc:
                if self.spool is None:
                    raise
                log.warning("database unreachable (%s); spooling %s %s", type(exc).__name__, kind, item["uid"])
                self.spool.append(kind, item)
                self._start_drainer()
                return None

    def _store(self, kind: str, item: dict[str, Any]) -> dict[str, Any] | None:
        """Write one message to the database (idempotent by event uid); a lost race to open the
        place's case (another writer opened it first: unique index) is retried once and attaches."""
        try:
            return self._store_once(kind, item)
        except IntegrityError:
            log.info("event %s: concurrent writer opened the case first; retrying", item["uid"])
            return self._store_once(kind, item)

    def _store_once(self, kind: str, item: dict[str, Any]) -> dict[str, Any] | None:
        from api import ledger

        with self.database.session() as session:
            row = session.scalars(select(Event).where(Event.uid == item["uid"])).first()
            if kind == "end":
                if row is not None:
                    row.ended_s, row.duration_s = item["ended_s"], item["duration_s"]
                return None
            if row is not None:
                return None  # already stored (a replay after a commit whose reply was lost)
            row = _event_row(item)
            session.add(row)
            session.flush()
            policy = self.policies.get((row.camera_id, row.rule_id), ledger.CasePolicy())
            case, _created = ledger.attach_event(session, row, policy)
            payload = {**event_payload(row), "case_id": case.id, "case_status": case.status}
            ledger.outbox(session).insert(0, ("event", payload))
        return payload

    def _notify(self, payload: dict[str, Any]) -> None:
        for listener in self.listeners:
            try:
                listener(payload)
            except Exception:
                log.exception("event listener failed")

    def _start_drainer(self) -> None:
        if self._drainer is None or not self._drainer.is_alive():
            self._drainer = threading.Thread(target=self._drain, name="event-spool", daemon=True)
            self._drainer.start()
        self._wake.set()

    def _drain(self) -> None:
        assert self.spool is not None
        delay = self.retry_s
        while not self._closed:
            with self._lock:
                head = self.spool.peek(1)
                if not head:
                    return
                seq, kind, item = head[0]
                try:
                    payload = self._store(kind, item)
                    self.spool.remove(seq)
                    delay = self.retry_s
                except DB_DOWN_ERRORS:
                    payload = None
                    failed = True
                else:
                    failed = False
            if payload is not None:
                self._notify(payload)
            if failed:
                self._wake.wait(delay)
                self._wake.clear()
                delay = min(delay * 2, 10.0)
        return


def _policies(cameras: list[CameraConfig]) -> dict[tuple[str, str], Any]:
    from api.ledger import CasePolicy

    policies = {}
    for camera in cameras:
        for rule in camera.rules:
            case = getattr(rule, "case", None)
            if case is not None:
                policies[(camera.id, rule.id)] = CasePolicy(case.auto_register, case.priority, case.deadline_h)
    return policies


def _event_row(item: dict[str, Any]) -> Event:
    evidence = item["evidence"]
    return Event(
        uid=item["uid"],
        type=item["type"],
        camera_id=item["camera_id"],
        rule_id=item["rule_id"],
        zone_id=item["zone_id"],
        label=item["label"],
        track_id=item["track_id"],
        first_seen_s=item["first_seen_s"],
        triggered_s=item["triggered_s"],
        score=item["score"],
        box=item["box"],
        snapshot_path=next((e["path"] for e in evidence if e["kind"] == "trigger"), None),
        evidence=evidence,
        review_status="pending",
        occurred_at=datetime.fromtimestamp(item["occurred_wall_s"], UTC),
    )


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
