"""One live viewer's bounded queue of messages (JSON-able dicts and binary fMP4 fragments).

Filled by the reader's thread (`vision.record.live.LiveCamera`), emptied by the viewer's socket.
Never blocks and never grows past its bounds: when full, the viewer skips to the next keyframe.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

#: Fragments a viewer may have waiting, and their bytes (a few seconds of a 4 Mbit/s camera).
VIEWER_MAX_MESSAGES = 300
VIEWER_MAX_BYTES = 4 * 1024 * 1024

Message = dict[str, Any] | bytes


class LiveViewer:
    """A viewer's messages: `put_fragment` from the reader thread, `take` from the socket's side.
    `notify` (set by the socket: e.g. `loop.call_soon_threadsafe(event.set)`) is called when
    something arrives; `drops` counts the fragments skipped because the viewer was slow.

    Example:
        >>> viewer = LiveViewer("cam", max_messages=2)
        >>> viewer.put_fragment(b"k", key=True); viewer.put_fragment(b"d", key=False)
        >>> viewer.put_fragment(b"d", key=False); viewer.take(), viewer.drops
        ([b'k', b'd'], 1)
    """

    def __init__(self, camera_id: str, *, max_messages: int = VIEWER_MAX_MESSAGES, max_bytes: int = VIEWER_MAX_BYTES):
        self.camera_id = camera_id
        self.max_messages, self.max_bytes = max_messages, max_bytes
        self.notify: Callable[[], None] | None = None
        self.drops = 0
        self.sent = 0
        self.started = False  # got its session's init segment
        self.closed_reason: str | None = None
        self._queue: deque[Message] = deque()
        self._bytes = 0
        self._await_key = True
        self._lock = threading.Lock()

    def put_control(self, message: Message, *, reset: bool = False) -> None:
        """A session message or init segment: always queued (`reset` first empties the queue)."""
        with self._lock:
            if reset:
                self._queue.clear()
                self._bytes = 0
                self._await_key = True
            self._queue.append(message)
            self._bytes += len(message) if isinstance(message, bytes) else 0
        self._wake()

    def put_fragment(self, fragment: bytes, *, key: bool) -> None:
        """A fragment; dropped (counted) while waiting for a keyframe after the queue was full."""
        with self._lock:
            if self._await_key and not key:
                self.drops += 1
                return
            full = len(self._queue) >= self.max_messages or self._bytes + len(fragment) > self.max_bytes
            if full:
                self.drops += 1
                self._await_key = True
                return
            self._await_key = False
            self._queue.append(fragment)
            self._bytes += len(fragment)
        self._wake()

    def take(self) -> list[Message]:
        """Everything waiting, oldest first."""
        with self._lock:
            messages = list(self._queue)
            self._queue.clear()
            self._bytes = 0
        self.sent += len(messages)
        return messages

    def close(self, reason: str) -> None:
        """End this viewer (the socket closes with `reason`)."""
        self.closed_reason = reason
        self._wake()

    @property
    def queued_bytes(self) -> int:
        with self._lock:
            return self._bytes

    def _wake(self) -> None:
        notify = self.notify
        if notify is not None:
            with contextlib.suppress(RuntimeError):  # the socket's event loop is gone: the viewer is leaving
                notify()
