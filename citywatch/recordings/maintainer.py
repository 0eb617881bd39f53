"""The retention maintainer: every minute, applies `choose_deletions` to the recordings directory.

Each pass first reconciles the index with the disk (`citywatch.recordings.index.reconcile`), then
takes the indexed recordings (continuous segments and case exports) from the database and the event
clips from the events that point at them. Protected, whatever the quota says: every clip whose
event belongs to an open case, every export of an open case, and every continuous segment that
overlaps the time an open case's event was on screen (`retention.event_window`). It deletes what
retention, `max_recordings_gb` and the disk's free-space floor choose, oldest first; the row is
removed (or the clip cleared) before the file goes, so the API never points at a missing file (a
crash between the two leaves an orphan file, which the next pass ages out).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.exc import SQLAlchemyError

from citywatch.config import CitywatchConfig
from citywatch.domain import workflow
from citywatch.domain.db import Database
from citywatch.domain.tables import Case, Event
from citywatch.domain.tables import Recording as RecordingRow
from citywatch.recordings.index import reconcile, segment_start
from citywatch.recordings.retention import Deletion, Recording, Retain, Window, choose_deletions, cited, event_window
from vision.record.clip import free_bytes
from vision.record.recovery import recover_parts

log = logging.getLogger(__name__)

#: Seconds between two retention passes.
PERIOD_S = 60.0


def scan_unindexed(root: Path, indexed: set[str], clips: dict[str, bool]) -> list[Recording]:
    """The finished MP4s under `root` no index row names: event clips (aged by their file's time;
    `clips` maps a clip's name to whether an open case cites it) and segments the index could not
    read (aged by the start in their name)."""
    found: list[Recording] = []
    for path in root.rglob("*.mp4") if root.is_dir() else ():
        name = path.relative_to(root).as_posix()
        if name in indexed:
            continue
        size = path.stat().st_size
        segment = segment_start(name) if name not in clips else None
        if segment is not None:
            found.append(Recording(name, segment[0], "segment", segment[1], size))
        else:
            start = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            found.append(Recording(name, name.split("/", 1)[0], "clip", start, size, clips.get(name, False)))
    return found


def indexed_recordings(rows: Iterable[RecordingRow], open_cases: set[int], windows: list[Window]) -> list[Recording]:
    """The index rows as retention sees them: an export is protected while its case is open, a
    segment while an open case's event window overlaps it."""
    found = []
    for row in rows:
        if row.kind == "export":
            found.append(
                Recording(row.path, row.camera_id, "export", row.start_at, row.bytes, row.case_id in open_cases)
            )
        else:
            protected = cited(row.camera_id, row.start_at, row.end_at, windows)
            motion = bool(row.motion)
            found.append(Recording(row.path, row.camera_id, "segment", row.start_at, row.bytes, protected, motion))
    return found


class Maintainer:
    """Recovery at start, then retention every `period_s` in a thread of its own.

    Example:
        >>> maintainer = Maintainer(config, database); maintainer.start()  # doctest: +SKIP
    """

    def __init__(self, config: CitywatchConfig, database: Database, *, period_s: float = PERIOD_S):
        self.root = config.storage.recordings_root
        self.database = database
        self.period_s = period_s
        self.max_bytes = int(config.storage.max_recordings_gb * 1e9)
        self.retain = {
            c.id: Retain(c.record.retain.clips_days, c.record.retain.continuous_days, c.record.retain.motion_days)
            for c in config.cameras
        }
        self.pre_s = {c.id: c.record.pre_s for c in config.cameras}
        self.post_s = {c.id: c.record.post_s for c in config.cameras}
        self.deleted: dict[str, int] = {"expired": 0, "quota": 0, "disk": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="recordings-maintainer", daemon=True)

    def start(self) -> None:
        for item in recover_parts(self.root):
            log.info("recovered %s: %s", item.part.name, "repaired" if item.path else "removed (unreadable)")
        try:  # the segments recovered, or written while the database was away, are indexed at once
            added, dropped = reconcile(self.database, self.root)
            log.info("recordings index: %d added, %d dropped", added, dropped)
        except SQLAlchemyError as exc:
            log.warning("recordings index not reconciled at start: %s", type(exc).__name__)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            try:
                self.run_once()
            except Exception:  # retention never stops the service
                log.exception("recordings retention pass failed")

    def run_once(self, now: datetime | None = None) -> list[Deletion]:
        """One pass: reconcile the index, choose and delete; returns what was deleted."""
        try:
            reconcile(self.database, self.root)
            recordings, clips = self._recordings()
        except SQLAlchemyError as exc:  # without the database nothing is known to be unprotected
            log.warning("recordings retention skipped: database unavailable (%s)", type(exc).__name__)
            return []
        free, reserve = free_bytes(self.root)
        chosen = choose_deletions(
            recordings,
            now=now or datetime.now(UTC),
            retain=self.retain,
            max_bytes=self.max_bytes,
            free_bytes=free,
            floor_bytes=2 * reserve,  # clips refuse below one reserve; retention frees before that
        )
        for deletion in chosen:
            name = deletion.recording.key
            with self.database.session() as session:
                if name in clips:
                    session.execute(update(Event).where(Event.clip == name).values(clip=None))
                else:
                    session.execute(delete(RecordingRow).where(RecordingRow.path == name))
            (self.root / name).unlink(missing_ok=True)
            self.deleted[deletion.reason] += 1
        if chosen:
            log.info("recordings retention: %d file(s) deleted", len(chosen))
        return chosen

    def _recordings(self) -> tuple[list[Recording], dict[str, bool]]:
        """Every recording retention may weigh, and the clips (name → cited by an open case)."""
        with self.database.read_session() as session:
            rows = list(session.scalars(select(RecordingRow)))
            open_cases = set(session.scalars(select(Case.id).where(Case.status.in_(workflow.OPEN_STATUSES))))
            clip_rows = session.execute(
                select(Event.clip, Case.status).outerjoin(Case, Event.case_id == Case.id).where(Event.clip.is_not(None))
            ).all()
            cited_events = session.execute(
                select(Event.camera_id, Event.occurred_at, Event.first_seen_s, Event.triggered_s, Event.ended_s)
                .join(Case, Event.case_id == Case.id)
                .where(Case.status.in_(workflow.OPEN_STATUSES))
            ).all()
        clips = {str(clip): status in workflow.OPEN_STATUSES for clip, status in clip_rows}
        windows = [
            event_window(
                camera_id,
                occurred_at,
                first_seen_s=first_seen_s,
                triggered_s=triggered_s,
                ended_s=ended_s,
                pre_s=self.pre_s.get(camera_id, 5.0),
                post_s=self.post_s.get(camera_id, 5.0),
            )
            for camera_id, occurred_at, first_seen_s, triggered_s, ended_s in cited_events
        ]
        indexed = indexed_recordings(rows, open_cases, windows)
        return indexed + scan_unindexed(self.root, {row.path for row in rows}, clips), clips
