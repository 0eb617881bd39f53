"""A camera group's outbox: what its cameras produce for the driver (events with their evidence
JPEG bytes, their ends, zone-clear notices), held in order until the driver acknowledges it.

The group host's `OutboxSink` stands where a process's `EventSink` stands (the runtime calls
`record`, `end` and `zone_clear`) but only queues; the driver pulls `pending()` batches, stores
them through the real sink and acknowledges with `ack(seq)`. The outbox is bounded: when it is
full a camera waits (back-pressure, nothing dropped). Entries are numbered; a message stays until
acknowledged, so one re-sent after a lost reply is stored once (the sink is idempotent by uid).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from citywatch.events import EventEnd, EventRecord

Kind = Literal["event", "end", "clear"]


@dataclass(frozen=True)
class ZoneClear:
    """A zone seen clear of a rule type's problem since `clear_since` (automatic verification)."""

    camera_id: str
    zone_id: str
    rule_type: str
    clear_since: datetime


Message = EventRecord | EventEnd | ZoneClear


@dataclass(frozen=True)
class Entry:
    """One numbered message of an outbox."""

    seq: int
    message: Message

    @property
    def camera_id(self) -> str:
        return self.message.camera_id


class Outbox:
    """Numbered messages in order, at most `max_entries`, removed only by `ack`.

    Example:
        >>> box = Outbox(max_entries=10)
        >>> box.put(EventEnd("uid-1", "cam", 30.0, 10.0))
        1
        >>> [e.seq for e in box.pending()], box.ack(1), len(box)
        ([1], 1, 0)
    """

    def __init__(self, max_entries: int = 1000):
        self.max_entries = max_entries
        self._entries: list[Entry] = []
        self._next = 1
        self._cond = threading.Condition()
        self.closed = False
        #: How long cameras have waited for room, in total (seconds).
        self.waited_s = 0.0

    def __len__(self) -> int:
        with self._cond:
            return len(self._entries)

    def put(self, message: Message, timeout: float | None = None) -> int:
        """Append a message, waiting while the outbox is full; its sequence number. Raises
        `TimeoutError` after `timeout` seconds without room (None: wait until room or close)."""
        started = time.monotonic()
        with self._cond:
            while len(self._entries) >= self.max_entries and not self.closed:
                remaining = None if timeout is None else timeout - (time.monotonic() - started)
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"outbox full ({self.max_entries} messages unacknowledged)")
                self._cond.wait(remaining if remaining is not None else 1.0)
            self.waited_s += time.monotonic() - started
            seq = self._next
            self._next += 1
            self._entries.append(Entry(seq, message))
            return seq

    def pending(self, limit: int = 100, max_bytes: int = 32 << 20) -> list[Entry]:
        """The oldest unacknowledged entries, at most `limit` and about `max_bytes` of evidence."""
        batch: list[Entry] = []
        size = 0
        with self._cond:
            for entry in self._entries[:limit]:
                if isinstance(entry.message, EventRecord):
                    size += sum(len(data) for data in entry.message.images.values())
                if batch and size > max_bytes:
                    break
                batch.append(entry)
        return batch

    def of_camera(self, camera_id: str) -> list[Message]:
        """The unacknowledged messages of one camera, oldest first (they go into its checkpoint)."""
        with self._cond:
            return [entry.message for entry in self._entries if entry.camera_id == camera_id]

    def ack(self, seq: int) -> int:
        """Drop every entry up to and including `seq`; how many were dropped."""
        with self._cond:
            before = len(self._entries)
            self._entries = [entry for entry in self._entries if entry.seq > seq]
            dropped = before - len(self._entries)
            if dropped:
                self._cond.notify_all()
            return dropped

    def close(self) -> None:
        """Let waiting cameras go (the group stops)."""
        with self._cond:
            self.closed = True
            self._cond.notify_all()


class OutboxSink:
    """What a group's runtime writes to instead of an `EventSink`: every output into the outbox.

    Example:
        >>> sink = OutboxSink(Outbox())
        >>> sink.end(EventEnd("uid-1", "cam", 30.0, 10.0)); len(sink.outbox)
        1
    """

    database = None  # the group has no database: its mode comes from the driver

    def __init__(self, outbox: Outbox):
        self.outbox = outbox
        self.listeners: list[Any] = []

    def record(self, record: EventRecord) -> dict[str, Any]:
        seq = self.outbox.put(record)
        return {"uid": record.uid, "id": None, "queued": seq}

    def end(self, end: EventEnd) -> None:
        self.outbox.put(end)

    def zone_clear(self, camera_id: str, zone_id: str, type_: str, clear_since: datetime) -> list[int]:
        self.outbox.put(ZoneClear(camera_id, zone_id, type_, clear_since))
        return []  # the driver verifies the cases when it stores the notice
