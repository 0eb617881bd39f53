"""A durable local queue for the event sink while the database is unreachable.

Entries (`record` and `end` messages as JSON) go into a SQLite file under the data directory with
`synchronous=FULL`, so an entry that `append` returned survives a crash or power cut. The sink
replays them in order (`peek`, write to the database, `remove`) when the database returns; a
replayed event whose uid is already stored is skipped, so each event lands exactly once.

Example:
    >>> spool = Spool(tmp_path / "spool.db")  # doctest: +SKIP
    >>> seq = spool.append("record", {"uid": "..."})  # doctest: +SKIP
    >>> [(seq, kind, body)] = spool.peek(1); spool.remove(seq)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any


class Spool:
    """An append-only, ordered, fsynced queue in one SQLite file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, "
            "body TEXT NOT NULL, spooled_at REAL NOT NULL)"
        )

    def append(self, kind: str, body: dict[str, Any]) -> int:
        """Add an entry at the tail, durably; returns its sequence number."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO spool (kind, body, spooled_at) VALUES (?, ?, ?)",
                (kind, json.dumps(body, ensure_ascii=False), time.time()),
            )
            return int(cursor.lastrowid or 0)

    def peek(self, limit: int = 1) -> list[tuple[int, str, dict[str, Any]]]:
        """The oldest `limit` entries, oldest first, without removing them."""
        with self._lock:
            rows = self._db.execute("SELECT seq, kind, body FROM spool ORDER BY seq LIMIT ?", (limit,)).fetchall()
        return [(seq, kind, json.loads(body)) for seq, kind, body in rows]

    def remove(self, seq: int) -> None:
        """Drop an entry once it is safely in the database."""
        with self._lock:
            self._db.execute("DELETE FROM spool WHERE seq = ?", (seq,))

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM spool").fetchone()[0])

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()
