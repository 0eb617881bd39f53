"""The retention maintainer: every minute, applies `choose_deletions` to the recordings directory.

It lists the finished MP4s on disk (continuous segments by their name, event clips by the events
that point at them), marks protected every clip whose event belongs to a case that is not closed,
and deletes what retention, `max_recordings_gb` and the disk's free-space floor choose, oldest
first. For a clip the row is cleared before the file goes (the API never points at a missing
file; a crash between the two leaves only an orphan file, which the next pass ages out).
"""

from __future__ import annotations

import logging
import re
import threading
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from citywatch.config import CitywatchConfig
from citywatch.domain.db import Database
from citywatch.domain.tables import Case, Event
from citywatch.recordings.retention import Deletion, Recording, Retain, choose_deletions
from vision.record.clip import free_bytes
from vision.record.recovery import recover_parts

log = logging.getLogger(__name__)

#: Seconds between two retention passes.
PERIOD_S = 60.0
_SEGMENT = re.compile(r"(\d{8}T\d{9})Z-\d+\.mp4")


def scan(root: Path, clips: dict[str, bool]) -> list[Recording]:
    """Every finished MP4 under `root` as a `Recording`; `clips` maps a clip's relative name to
    whether a case that is not closed cites it."""
    found: list[Recording] = []
    for path in root.rglob("*.mp4") if root.is_dir() else ():
        name = path.relative_to(root).as_posix()
        camera_id = name.split("/", 1)[0]
        stat = path.stat()
        match = _SEGMENT.fullmatch(path.name)
        if match and name not in clips:
            start = datetime.strptime(match.group(1) + "000", "%Y%m%dT%H%M%S%f").replace(tzinfo=UTC)
            found.append(Recording(name, camera_id, "segment", start, stat.st_size))
        else:
            start = datetime.fromtimestamp(stat.st_mtime, UTC)
            found.append(Recording(name, camera_id, "clip", start, stat.st_size, clips.get(name, False)))
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
            c.id: Retain(c.record.retain.clips_days, c.record.retain.continuous_days) for c in config.cameras
        }
        self.deleted: dict[str, int] = {"expired": 0, "quota": 0, "disk": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="recordings-maintainer", daemon=True)

    def start(self) -> None:
        for item in recover_parts(self.root):
            log.info("recovered %s: %s", item.part.name, "repaired" if item.path else "removed (unreadable)")
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
        """One pass: choose and delete; returns what was deleted."""
        try:
            with self.database.read_session() as session:
                rows = session.execute(
                    select(Event.clip, Case.status)
                    .outerjoin(Case, Event.case_id == Case.id)
                    .where(Event.clip.is_not(None))
                ).all()
        except SQLAlchemyError as exc:  # without the database nothing is known to be unprotected
            log.warning("recordings retention skipped: database unavailable (%s)", type(exc).__name__)
            return []
        clips = {str(clip): status is not None and status != "closed" for clip, status in rows}
        free, reserve = free_bytes(self.root)
        chosen = choose_deletions(
            scan(self.root, clips),
            now=now or datetime.now(UTC),
            retain=self.retain,
            max_bytes=self.max_bytes,
            free_bytes=free,
            floor_bytes=2 * reserve,  # clips refuse below one reserve; retention frees before that
        )
        for deletion in chosen:
            name = deletion.recording.key
            if name in clips:
                with self.database.session() as session:
                    session.execute(update(Event).where(Event.clip == name).values(clip=None))
            (self.root / name).unlink(missing_ok=True)
            self.deleted[deletion.reason] += 1
        if chosen:
            log.info("recordings retention: %d file(s) deleted", len(chosen))
        return chosen
