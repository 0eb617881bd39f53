"""The broadcaster: fans live messages out to every connected console, never blocking the sender.

`Broadcaster.publish` may be called from any thread (the pipeline's sink, the database's commit
hook, the change notifier). Each client has a bounded queue on the server's event loop; when a
slow client's queue is full the message is dropped and counted, so one stuck browser never holds
up the pipeline.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

#: Payload keys of a stored event that are safe and useful to push (no file paths).
LIVE_EVENT_KEYS = (
    "id", "uid", "type", "camera_id", "rule_id", "zone_id", "label", "first_seen_s", "triggered_s", "dwell_s",
    "score", "box", "occurred_at",
)  # fmt: skip


@dataclass(eq=False)
class Subscriber:
    """One connected client: its bounded queue on the server's event loop."""

    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[dict[str, Any]]
    dropped: int = 0


@dataclass
class Broadcaster:
    """Fans messages out to subscribers; `publish` may be called from any thread.

    Example:
        >>> broadcaster = Broadcaster(queue_size=2)
        >>> broadcaster.publish("change", {"path": "/api/mode"})  # no subscriber: nothing to do
        >>> broadcaster.stats()["published"]
        1
    """

    queue_size: int = 200
    published: int = 0
    dropped: int = 0
    _subscribers: set[Subscriber] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def subscribe(self) -> Subscriber:
        """Register a client; call from the event loop that will read its queue."""
        subscriber = Subscriber(asyncio.get_running_loop(), asyncio.Queue(maxsize=self.queue_size))
        with self._lock:
            self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(subscriber)

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        """Queue `{"kind": kind, "data": data, "at": epoch s}` for every client (thread-safe)."""
        message = {"kind": kind, "data": data, "at": round(time.time(), 3)}
        with self._lock:
            self.published += 1
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber.loop.call_soon_threadsafe(self._offer, subscriber, message)
            except RuntimeError:  # its loop is closed: the client is gone
                self.unsubscribe(subscriber)

    def publish_event(self, payload: dict[str, Any]) -> None:
        """An `EventSink` listener: push a newly stored event (without file paths)."""
        self.publish("event", {key: payload.get(key) for key in LIVE_EVENT_KEYS})

    def publish_committed(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        """A `Database` subscriber: push the ledger's committed changes (`case`, `event`)."""
        for kind, data in messages:
            if kind == "case":
                self.publish("case", {"case": data.get("case"), "action": data.get("action")})
            elif kind == "event":
                self.publish("event", {key: data.get(key) for key in LIVE_EVENT_KEYS if key in data})

    def _offer(self, subscriber: Subscriber, message: dict[str, Any]) -> None:
        try:
            subscriber.queue.put_nowait(message)
        except asyncio.QueueFull:
            subscriber.dropped += 1
            with self._lock:
                self.dropped += 1

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"clients": len(self._subscribers), "published": self.published, "dropped": self.dropped}
