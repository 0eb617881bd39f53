"""A durable local queue for the event sink while the database is unreachable.

Entries (`record` and `end` messages as JSON) go into a SQLite file under the data directory with
`synchronous=FULL`, so an entry that `append` returned survives a crash or power cut. The sink
replays them in order (`peek`, write to the database, `remove`) when the database returns; a
replayed event whose uid is already stored is skipped, so each event lands exactly once.

When the file cannot take an entry (its disk is full or read-only, it cannot be created) the
spool keeps working in memory, bounded by entries and bytes, and says so (`problems`): entries
already in the file stay first, and every later one waits in memory until the memory part is
empty, so the order never changes; the file is tried again then. Beyond the bound `append`
raises `SpoolFull`.

Example:
    >>> spool = Spool(tmp_path / "spool.db")  # doctest: +SKIP
    >>> seq = spool.append("record", {"uid": "..."})  # doctest: +SKIP
    >>> [(seq, kind, body)] = spool.peek(1); spool.remove(seq)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: Bounds of the in-memory part, used while the file cannot be written.
MEMORY_MAX_ENTRIES = 10_000
MEMORY_MAX_BYTES = 16 * 1024 * 1024


class SpoolFull(Exception):
    """The spool file cannot be written and its in-memory part is at its bound."""


class Spool:
    """An append-only, ordered, fsynced queue in one SQLite file, with a bounded in-memory tail
    for when the file cannot be written."""

    def __init__(
        self, path: str | Path, max_memory_entries: int = MEMORY_MAX_ENTRIES, max_memory_bytes: int = MEMORY_MAX_BYTES
    ):
        self.path = Path(path)
        self.max_memory_entries = max_memory_entries
        self.max_memory_bytes = max_memory_bytes
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        #: (seq, kind, body as JSON), after every entry of the file; seqs are negative.
        self._memory: deque[tuple[int, str, str]] = deque()
        self._memory_bytes = 0
        self._memory_seq = 0
        self._file_count = 0
        #: Why the file could not be used, while it cannot.
        self.failure: str | None = None
        self._open()

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, "
                "body TEXT NOT NULL, spooled_at REAL NOT NULL)"
            )
            self._file_count = int(db.execute("SELECT count(*) FROM spool").fetchone()[0])
        except (OSError, sqlite3.Error) as exc:
            self._file_failed(exc)
            return
        self._db = db

    def _file_failed(self, exc: BaseException) -> None:
        reason = f"{type(exc).__name__}: {exc}"
        if self.failure is None:
            log.error("spool file %s cannot be written (%s): spooling in memory", self.path, reason)
        self.failure = reason

    def append(self, kind: str, body: dict[str, Any]) -> int:
        """Add an entry at the tail, durably (in the file) when the file takes it; returns its
        sequence number. `SpoolFull` when neither the file nor the memory bound can take it."""
        text = json.dumps(body, ensure_ascii=False)
        with self._lock:
            if not self._memory:  # nothing waits in memory: the file may take it (order is kept)
                if self._db is None:
                    self._open()
                if self._db is not None:
                    try:
                        cursor = self._db.execute(
                            "INSERT INTO spool (kind, body, spooled_at) VALUES (?, ?, ?)", (kind, text, time.time())
                        )
                    except (OSError, sqlite3.Error) as exc:
                        self._file_failed(exc)
                    else:
                        if self.failure is not None:
                            log.warning("spool file %s takes entries again", self.path)
                            self.failure = None
                        self._file_count += 1
                        return int(cursor.lastrowid or 0)
            if len(self._memory) >= self.max_memory_entries or self._memory_bytes + len(text) > self.max_memory_bytes:
                raise SpoolFull(
                    f"spool file {self.path} unwritable ({self.failure}) and {len(self._memory)} entries "
                    f"({self._memory_bytes / 2**20:.1f} MiB) already in memory"
                )
            self._memory_seq -= 1
            self._memory.append((self._memory_seq, kind, text))
            self._memory_bytes += len(text)
            return self._memory_seq

    def peek(self, limit: int = 1) -> list[tuple[int, str, dict[str, Any]]]:
        """The oldest `limit` entries, oldest first, without removing them (sqlite3.Error when the
        file holds entries it cannot give back now)."""
        with self._lock:
            rows: list[tuple[int, str, str]] = []
            if self._db is not None:
                rows = self._db.execute("SELECT seq, kind, body FROM spool ORDER BY seq LIMIT ?", (limit,)).fetchall()
            if len(rows) < limit:
                rows += list(self._memory)[: limit - len(rows)]
        return [(seq, kind, json.loads(body)) for seq, kind, body in rows]

    def remove(self, seq: int) -> None:
        """Drop an entry once it is safely in the database."""
        with self._lock:
            if seq < 0:
                for index, (entry_seq, _, body) in enumerate(self._memory):
                    if entry_seq == seq:
                        del self._memory[index]
                        self._memory_bytes -= len(body)
                        break
                return
            if self._db is not None:
                cursor = self._db.execute("DELETE FROM spool WHERE seq = ?", (seq,))
                self._file_count = max(0, self._file_count - cursor.rowcount)

    def __len__(self) -> int:
        with self._lock:
            if self._db is not None:
                with contextlib.suppress(sqlite3.Error):  # cannot be read now: the last count stands
                    self._file_count = int(self._db.execute("SELECT count(*) FROM spool").fetchone()[0])
            return self._file_count + len(self._memory)

    @property
    def in_memory(self) -> int:
        """Entries waiting in memory because the file could not take them."""
        return len(self._memory)

    def problems(self) -> list[str]:
        """Why the spool is not as durable as it should be, as short sentences (none when it is)."""
        held = len(self._memory)
        if held:
            return [
                f"spool file {self.path} unwritable ({self.failure}): {held} entries "
                f"({self._memory_bytes / 2**20:.1f} MiB) held in memory until it takes them"
            ]
        if self._db is None:
            return [f"spool file {self.path} cannot be opened ({self.failure}): an outage would be spooled in memory"]
        return []

    def close(self) -> None:
        """Close the file; entries still in memory are lost, and logged."""
        with self._lock:
            if self._memory:
                log.error(
                    "spool closing with %d entries only in memory (file %s unwritable)", len(self._memory), self.path
                )
            if self._db is not None:
                self._db.close()
                self._db = None
