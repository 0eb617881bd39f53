"""The event sink: evidence files first, durably, then the event row, so no event ever points at a
missing photo; while the database is unreachable, events wait in a local spool; while the
evidence disk fails, events wait in memory with their JPEG bytes.

A camera's pipeline produces `EventRecord`s and `EventEnd`s (`citywatch.events`). `EventSink`
writes the evidence JPEGs (temp file, fsync, rename), then stores the row through the domain
(`citywatch.domain.intake.store_or_suppress`: onto its place's open case; or kept `suppressed`, unannounced).
When the database is unreachable the record (its evidence already on disk) goes to the spool
(`citywatch.spool`), and so does everything after it until a background thread has replayed the
spool in order. Events are published (via `Database.subscribers`) only after their row commits.

When an evidence write fails (disk full, read-only, I/O error: any `OSError`), the camera goes on
at its rate: the event waits in a bounded in-memory queue (encoded JPEG bytes, at most
`max_held_bytes` and `max_held` events; beyond that its row is stored without the missing images,
and logged), the same background thread retries the writes with backoff and stores each row once
its evidence is on disk; the end of a waiting event waits behind it. `problems()` says what is
wrong meanwhile (`/healthz` reports it). The thread never dies: any error is retried with
backoff and logged once per outage. An event's MP4 clip (`clips`, a `vision.record.ClipWriter`)
comes `post_s` of stream time after its row: `attach_clip` then points the row at the durable file.
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
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from citywatch.config import CameraConfig, CitywatchConfig, EnforcementConfig
from citywatch.domain import intake, ledger
from citywatch.domain.db import Database
from citywatch.domain.events import EventItem, event_row, set_clip
from citywatch.domain.payloads import event_row_payload, jsonable
from citywatch.events import EventEnd, EventRecord, clip_name
from citywatch.evidence_queue import HELD_MAX_BYTES, HELD_MAX_EVENTS, EvidenceQueue, Held
from citywatch.publish import Publisher
from citywatch.spool import Spool, SpoolFull
from vision.record import ClipWriter

log = logging.getLogger(__name__)

#: Errors that mean "the database is unreachable or busy" (spool and retry), not "this event is bad";
#: a pool with every connection taken times out (PoolTimeoutError) like an unreachable server.
DB_DOWN_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError, PoolTimeoutError)

#: The longest wait between two retries of the background thread.
MAX_RETRY_S = 10.0


class EventSink:
    """Writes evidence, then the event row (attached to its case); calls `listeners` with the stored payload.

    Example:
        >>> sink = EventSink.from_config(config, database)  # doctest: +SKIP
        >>> payload = sink.record(record)  # evidence on disk, row committed (or spooled, or held)  # doctest: +SKIP
        >>> sink.problems()  # e.g. ['evidence disk full (data/evidence): 3 event(s) ...']  # doctest: +SKIP
    """

    def __init__(
        self,
        database: Database,
        evidence_dir: str | Path,
        *,
        cameras: list[CameraConfig] | None = None,
        spool: Spool | str | Path | None = None,
        retry_s: float = 1.0,
        max_held_bytes: int = HELD_MAX_BYTES,
        max_held: int = HELD_MAX_EVENTS,
        recordings_dir: str | Path | None = None,
        max_recordings_bytes: int = 500 * 10**9,
    ):
        self.database = database
        self.evidence_dir = Path(evidence_dir)
        #: Where event clips go (default: `recordings` beside the evidence directory).
        self.recordings_dir = Path(recordings_dir) if recordings_dir else self.evidence_dir.parent / "recordings"
        self.max_recordings_bytes = max_recordings_bytes
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        #: Told of each clip's outcome: (event uid, the MP4's path or None when none was written).
        self.clip_listeners: list[Callable[[str, str | None], None]] = []
        self._clips: ClipWriter | None = None
        self.policies = {
            (camera.id, rule.id): ledger.CasePolicy.of(rule.case) for camera in cameras or [] for rule in camera.rules
        }
        self.spool = Spool(spool) if isinstance(spool, str | Path) else spool
        self.retry_s = retry_s
        self.publisher: Publisher | None = None
        self.enforcement: EnforcementConfig | None = None  # the city's terms: a waiver on departure
        self._lock, self._wake = threading.RLock(), threading.Event()
        self._closed = False
        self._drainer: threading.Thread | None = None
        #: Events waiting in memory for the evidence disk, oldest first.
        self.waiting = EvidenceQueue(self.evidence_dir, max_held_bytes, max_held)
        self._db_error: str | None = None
        self._drain_error: str | None = None
        #: Events that neither the database, the spool nor memory could take (logged each).
        self.lost = 0
        if self.spool is not None and len(self.spool):
            self._start_drainer()

    @classmethod
    def from_config(cls, config: CitywatchConfig, database: Database, publisher: Publisher | None = None) -> EventSink:
        """The sink of a config: its cameras' case policies, its spool file and (optionally) publisher."""
        spool = config.storage.spool_path or Path(config.storage.evidence_dir).parent / "spool.db"
        sink = cls(
            database,
            config.storage.evidence_dir,
            cameras=config.cameras,
            spool=spool,
            recordings_dir=config.storage.recordings_root,
            max_recordings_bytes=int(config.storage.max_recordings_gb * 1e9),
        )
        sink.enforcement = config.enforcement
        if publisher is not None:
            sink.publisher = publisher
            if publisher.on_commit not in database.subscribers:
                database.subscribers.append(publisher.on_commit)
        return sink

    def evidence_path(self, record: EventRecord, kind: str) -> Path:
        """Where one evidence image of a record is written: <evidence>/<camera>/<UTC day>/<uid>-<kind>.jpg."""
        day = datetime.fromtimestamp(record.occurred_wall_s, UTC).strftime("%Y%m%d")
        return self.evidence_dir / record.camera_id / day / f"{record.uid}-{kind}.jpg"

    def clip_name(self, record: EventRecord) -> str:
        """Where a record's clip goes, relative to the recordings directory: <camera>/<UTC day>/<uid>.mp4."""
        return clip_name(record)

    @property
    def clips(self) -> ClipWriter:
        """The writer of event clips (started at first use); each outcome comes to `attach_clip`."""
        with self._lock:
            if self._clips is None:
                self._clips = ClipWriter(
                    self.recordings_dir, max_bytes=self.max_recordings_bytes, on_done=self.attach_clip
                )
            return self._clips

    def attach_clip(self, uid: str, clip: str | None, reason: str | None = None) -> None:
        """A clip's outcome: once its file is durable, point the event's row at it (`clip`, relative
        to the recordings directory), behind the event when that still waits (evidence disk, spool);
        None when no clip could be written (`reason`; the event keeps `clip` null). Then tell
        `clip_listeners`."""
        if clip is not None:
            item = {"uid": uid, "clip": clip}
            with self._lock:
                if uid in self.waiting.uids:  # its event waits for the evidence disk: the clip waits behind it
                    self.waiting.entries.append(Held("clip", item))
                else:
                    self._write("clip", item)
        for listener in self.clip_listeners:
            try:
                listener(uid, str(self.recordings_dir / clip) if clip is not None else None)
            except Exception:
                log.exception("clip listener failed")

    @property
    def spooled(self) -> int:
        """Entries waiting in the spool for the database."""
        return len(self.spool) if self.spool is not None else 0

    @property
    def held(self) -> int:
        """Events waiting in memory for the evidence disk."""
        return len(self.waiting)

    def problems(self) -> list[str]:
        """What keeps events from being stored as they should, as short sentences (none when all is
        well): a failing evidence disk and the events held meanwhile, a spool kept in memory, events
        lost. Takes no lock, so a health check never waits for a slow write."""
        problems = self.waiting.problems()
        if self.spool is not None:
            problems.extend(self.spool.problems())
        if self.lost:
            problems.append(f"{self.lost} event message(s) lost: database, spool and memory all refused them")
        return problems

    def record(self, record: EventRecord) -> dict[str, Any]:
        """Persist one event: evidence files first, then the row. Returns its payload.

        While the database is down (or older events still wait in the spool) the event is spooled
        and the returned payload has `"id": None, "spooled": True`; listeners hear of it on replay.
        While the evidence disk fails it is held in memory (same answer) until its files are written.
        """
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
            "evidence": [],
            "occurred_wall_s": record.occurred_wall_s,
            "plate": record.plate,
        }
        images = {kind: (self.evidence_path(record, kind), data) for kind, data in record.images.items()}
        if not self.waiting.entries:  # while events wait for the disk, the retry thread does the writing
            images = self.waiting.write(item, images)
        with self._lock:
            if images and self.waiting.hold(Held("record", item, images)):
                self._start_drainer()
                payload = None
            else:  # all written, or beyond the memory bound: the row now, without what is missing
                payload = self._write("record", item)
        if payload is None:
            return {**jsonable(event_row_payload(event_row(item))), "id": None, "spooled": True}
        self._notify(payload)
        return payload

    def end(self, end: EventEnd) -> None:
        """Record when the stay behind an event ended, and its total duration."""
        item = {"uid": end.uid, "camera_id": end.camera_id, "ended_s": end.ended_s, "duration_s": end.duration_s,
                "reason": end.reason, "plate": end.plate}  # fmt: skip
        with self._lock:
            if not self.waiting.hold_end(item):  # else its event waits for the disk: the end waits behind it
                self._write("end", item)

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
        """Wait until the spool and the evidence held in memory are empty; True when they are."""
        deadline = time.monotonic() + timeout
        while (self.spooled or self.waiting.entries) and time.monotonic() < deadline:
            self._wake.set()
            time.sleep(0.05)
        return not (self.spooled or self.waiting.entries)

    def close(self) -> None:
        """Stop the retry thread (the spool keeps what is left for the next start). Events still
        waiting for the evidence disk are stored without the images that could not be written.
        Clips still being written are finished first (their rows are pointed at them)."""
        if self._clips is not None:
            self._clips.close()
        self._closed = True
        self._wake.set()
        if self._drainer is not None:
            self._drainer.join(5)
        with self._lock:
            while self.waiting.entries:
                entry = self.waiting.entries[0]
                if entry.images:
                    log.error(
                        "closing: event %s stored without its %s evidence", entry.item["uid"], "/".join(entry.images)
                    )
                try:
                    self._write(entry.kind, entry.item)
                except Exception:
                    self.lost += 1
                    log.exception("closing: event %s lost (database down, no spool)", entry.item["uid"])
                self.waiting.pop()

    # --- rows --------------------------------------------------------------------------------

    def _write(self, kind: str, item: dict[str, Any]) -> dict[str, Any] | None:
        with self._lock:
            if self.spool is not None and len(self.spool):
                self._spool(kind, item)
                return None
            try:
                return self._store(kind, item)
            except DB_DOWN_ERRORS as exc:
                if self.spool is None:
                    raise
                self._db_failed(exc)
                self._spool(kind, item)
                return None

    def _spool(self, kind: str, item: dict[str, Any]) -> None:
        assert self.spool is not None
        try:
            self.spool.append(kind, item)
        except SpoolFull as exc:
            self.lost += 1
            log.error("%s %s lost: %s", kind, item["uid"], exc)
            return
        self._start_drainer()

    def _db_failed(self, exc: Exception) -> None:
        if self._db_error is None:
            log.warning("database unreachable (%s: %s); spooling events until it returns", type(exc).__name__, exc)
        self._db_error = type(exc).__name__

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
                intake.end_stay(session, item, self.enforcement)
                return None
            if kind == "clip":
                if not set_clip(session, item["uid"], item["clip"]):
                    log.warning("clip %s: its event %s is not stored", item["clip"], item["uid"])
                return None
            policy = self.policies.get((item["camera_id"], item["rule_id"]), ledger.CasePolicy())
            return intake.store_or_suppress(session, item, policy)

    def _notify(self, payload: dict[str, Any]) -> None:
        for listener in self.listeners if payload.get("review_status") != "suppressed" else ():
            try:
                listener(payload)
            except Exception:
                log.exception("event listener failed")

    # --- the retry thread --------------------------------------------------------------------

    def _start_drainer(self) -> None:
        """Make sure the retry thread runs (called with the lock held, or before any thread exists)."""
        if self._drainer is None or not self._drainer.is_alive():
            self._drainer = threading.Thread(target=self._drain, name="event-spool", daemon=True)
            self._drainer.start()
        self._wake.set()

    def _drain(self) -> None:
        """Until nothing waits: write held evidence and store its rows, replay the spool; back off
        while either fails. Any error is retried (logged once per outage), so the thread lives on."""
        delay = self.retry_s
        while not self._closed:
            try:
                progressed, waiting = self._drain_step()
            except Exception as exc:  # a bug or an unforeseen error must not end the replays
                if self._drain_error is None:
                    log.exception("event spool: replay failed; retrying with backoff")
                self._drain_error = f"{type(exc).__name__}: {exc}"
                progressed, waiting = False, True
            if progressed:
                delay = self.retry_s
                continue
            if not waiting:
                with self._lock:  # decided under the lock that `_start_drainer` takes: nothing is stranded
                    if not (self.waiting.entries or self.waiting.error or self.spooled):
                        self._drainer = None
                        return
                continue
            self._wake.wait(delay)
            self._wake.clear()
            delay = min(delay * 2, MAX_RETRY_S)

    def _drain_step(self) -> tuple[bool, bool]:
        """One step: (made progress, something still waits)."""
        if self.waiting.entries:
            with self._lock:
                head = self.waiting.retry_head()
                if head is None:
                    return False, True
                payload = self._write(head.kind, head.item)  # raises (and the entry stays) only without a spool
                self.waiting.pop()
            if payload is not None:
                self._notify(payload)
            return True, True
        if self.waiting.error is not None:
            return self.waiting.probe(), True
        return self._replay_spooled()

    def _replay_spooled(self) -> tuple[bool, bool]:
        if self.spool is None:
            return False, False
        with self._lock:
            entries = self.spool.peek(1)
            if not entries:
                return False, False
            seq, kind, item = entries[0]
            try:
                payload = self._store(kind, item)
            except DB_DOWN_ERRORS as exc:
                self._db_failed(exc)
                return False, True
            self.spool.remove(seq)
            if self._db_error is not None or self._drain_error is not None:
                log.warning("database takes events again; replaying the spool (%d left)", len(self.spool))
                self._db_error = self._drain_error = None
        if payload is not None:
            self._notify(payload)
        return True, True
