"""The database watcher: changes made by another process (a pipeline beside `citywatch serve`,
another API worker, the CLI) reach the connected consoles too."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import func, select

from api.live.broadcaster import Broadcaster
from citywatch.domain.db import Database
from citywatch.domain.payloads import event_row_payload, jsonable
from citywatch.domain.tables import Case, Event, ModeChange

log = logging.getLogger(__name__)


class DatabaseWatcher:
    """Polls the database while browsers are connected, so changes made by another process (a
    pipeline beside `citywatch serve`, another API worker, the CLI) reach them too: new events,
    case updates and mode switches. Duplicates of in-process pushes are harmless (the console
    de-duplicates by id and refetches on `change`)."""

    def __init__(self, database: Database, broadcaster: Broadcaster, every_s: float = 2.0):
        self.database, self.broadcaster, self.every_s = database, broadcaster, every_s
        self.marks: dict[str, Any] | None = None
        self._task: asyncio.Task | None = None

    def ensure_running(self) -> None:
        """Start polling on the running loop unless it already does."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        self.marks = None
        while self.broadcaster.stats()["clients"]:
            try:
                await asyncio.to_thread(self.poll)
            except Exception:  # a database hiccup must not end the live stream
                log.warning("live database watcher: poll failed", exc_info=True)
            await asyncio.sleep(self.every_s)

    def poll(self) -> None:
        """Publish what changed since the last poll (the first poll only takes the marks)."""
        with self.database.session() as session:
            marks = {
                "event": session.scalar(select(func.max(Event.id))) or 0,
                "case": session.scalar(select(func.max(Case.updated_at))),
                "mode": session.scalar(select(func.max(ModeChange.id))) or 0,
            }
            if self.marks is None:
                self.marks = marks
                return
            if marks["event"] > self.marks["event"]:
                newer = select(Event).where(Event.id > self.marks["event"]).order_by(Event.id).limit(200)
                for row in session.scalars(newer):
                    self.broadcaster.publish_event(jsonable(event_row_payload(row)))
        if marks["case"] != self.marks["case"]:
            self.broadcaster.publish("change", {"method": "DB", "path": "/api/cases", "status": 200})
        if marks["mode"] != self.marks["mode"]:
            self.broadcaster.publish("change", {"method": "DB", "path": "/api/mode", "status": 200})
        self.marks = marks
