"""A camera group's outbox: what its cameras produce for the driver (events with their evidence
JPEG bytes, their ends, zone-clear notices), held in order until the driver acknowledges it.

The group host's `OutboxSink` stands where a process's `EventSink` stands (the runtime calls
`record`, `end`, `zone_clear` and, for event clips, `clips` and `clip_name`) but only queues: a
clip is written here, into the shared recordings directory, and its outcome (`ClipReady`) queued
behind its event; the driver pulls `pending()` batches, stores
them through the real sink and acknowledges with `ack(seq)`. The outbox is bounded: when it is
full a camera waits (back-pressure, nothing dropped). Entries are numbered; a message stays until
acknowledged, so one re-sent after a lost reply is stored once (the sink is idempotent by uid).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from citywatch.events import EventEnd, EventRecord, clip_name
from vision.record import ClipWriter

Kind = Literal["event", "end", "clear", "clip"]


@dataclass(frozen=True)
class ZoneClear:
    """A zone seen clear of a rule type's problem since `clear_since` (automatic verification)."""

    camera_id: str
    zone_id: str
    rule_type: str
    clear_since: datetime


@dataclass(frozen=True)
class ClipReady:
    """The outcome of an event's clip, written by the group into the shared recordings directory:
    `clip` relative to it, or None with the `reason` no clip was written."""

    uid: str
    camera_id: str
    clip: str | None
    reason: str | None = None


Message = EventRecord | EventEnd | ZoneClear | ClipReady


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

    def __init__(self, outbox: Outbox, recordings_dir: Path | None = None, max_recordings_bytes: int = 500 * 10**9):
        self.outbox = outbox
        self.listeners: list[Any] = []
        #: Where the group writes its cameras' event clips (the driver's, on storage every node mounts);
        #: None: the group records no clips.
        self.recordings_dir = recordings_dir
        self.max_recordings_bytes = max_recordings_bytes
        self._clips: ClipWriter | None = None
        self._camera_of: dict[str, str] = {}  # event uid -> camera, for clips being written
        self._lock = threading.Lock()

    def record(self, record: EventRecord) -> dict[str, Any]:
        seq = self.outbox.put(record)
        return {"uid": record.uid, "id": None, "queued": seq}

    def end(self, end: EventEnd) -> None:
        self.outbox.put(end)

    def zone_clear(self, camera_id: str, zone_id: str, type_: str, clear_since: datetime) -> list[int]:
        self.outbox.put(ZoneClear(camera_id, zone_id, type_, clear_since))
        return []  # the driver verifies the cases when it stores the notice

    def clip_name(self, record: EventRecord) -> str:
        with self._lock:
            self._camera_of[record.uid] = record.camera_id
        return clip_name(record)

    @property
    def clips(self) -> ClipWriter:
        """The group's clip writer (started at first use); each outcome goes into the outbox."""
        if self.recordings_dir is None:
            raise RuntimeError("this group records no clips (no recordings directory)")
        with self._lock:
            if self._clips is None:
                self._clips = ClipWriter(
                    self.recordings_dir, max_bytes=self.max_recordings_bytes, on_done=self.attach_clip
                )
            return self._clips

    def attach_clip(self, uid: str, clip: str | None, reason: str | None = None) -> None:
        """A clip's outcome, queued for the driver behind its event (the driver points the row at it)."""
        with self._lock:
            camera_id = self._camera_of.pop(uid, "")
        self.outbox.put(ClipReady(uid, camera_id, clip, reason))

    def close(self) -> None:
        """Finish the clips being written (their outcomes go into the outbox for the last pull)."""
        with self._lock:
            clips, self._clips = self._clips, None
        if clips is not None:
            clips.close()
