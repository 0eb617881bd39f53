"""The event sink: evidence files first, durably, then the event row, so no event ever points at a
missing photo; while the database is unreachable, events wait in a local spool.

A camera's pipeline produces `EventRecord`s and `EventEnd`s (`citywatch.events`). `EventSink`
writes the evidence JPEGs (temp file, fsync, rename), then stores the row through the domain
(`citywatch.domain.events.store_event`: attached to the open case of its camera, zone and type).
When the database is unreachable the record (its evidence already on disk) goes to the spool
(`citywatch.spool`), and so does everything after it until a background thread has replayed the
spool in order. Events are published (via `Database.subscribers`) only after their row commits.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from citywatch.config import CameraConfig, CitywatchConfig
from citywatch.domain import ledger
from citywatch.domain.db import Database
from citywatch.domain.events import EventItem, end_event, event_row, store_event
from citywatch.domain.payloads import event_row_payload, jsonable
from citywatch.events import EventEnd, EventRecord
from citywatch.publish import Publisher
from citywatch.spool import Spool
from vision.evidence import write_durably

log = logging.getLogger(__name__)

#: Errors that mean "the database is unreachable" (spool and retry), not "this event is bad".
DB_DOWN_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError)


class EventSink:
    """Writes evidence, then the event row (attached to its case); calls `listeners` with the stored payload.

    Example:
        >>> sink = EventSink.from_config(config, database)  # doctest: +SKIP
        >>> payload = sink.record(record)  # evidence on disk, row committed (or spooled)  # doctest: +SKIP
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
        self.policies = {
            (camera.id, rule.id): ledger.CasePolicy.of(rule.case) for camera in cameras or [] for rule in camera.rules
        }
        self.spool = Spool(spool) if isinstance(spool, str | Path) else spool
        self.retry_s = retry_s
        self.publisher: Publisher | None = None
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._closed = False
        self._drainer: threading.Thread | None = None
        if self.spool is not None and len(self.spool):
            self._start_drainer()

    @classmethod
    def from_config(cls, config: CitywatchConfig, database: Database, publisher: Publisher | None = None) -> EventSink:
        """The sink of a config: its cameras' case policies, its spool file and (optionally) publisher."""
        spool = config.storage.spool_path or Path(config.storage.evidence_dir).parent / "spool.db"
        sink = cls(database, config.storage.evidence_dir, cameras=config.cameras, spool=spool)
        if publisher is not None:
            sink.publisher = publisher
            if publisher.on_commit not in database.subscribers:
                database.subscribers.append(publisher.on_commit)
        return sink

    def evidence_path(self, record: EventRecord, kind: str) -> Path:
        """Where one evidence image of a record is written: <evidence>/<camera>/<UTC day>/<uid>-<kind>.jpg."""
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
        item: EventItem = {
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
            return {**jsonable(event_row_payload(event_row(item))), "id": None, "spooled": True}
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
        with self.database.session() as session:
            if kind == "end":
                end_event(session, item["uid"], item["ended_s"], item["duration_s"])
                return None
            policy = self.policies.get((item["camera_id"], item["rule_id"]), ledger.CasePolicy())
            return store_event(session, item, policy)

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
