"""A tiny per-app TTL cache for expensive reads on big ledgers (counts, statistics).

Only results over a size threshold are kept, so small ledgers (and tests) always read fresh
values; on a big one a list's `total` or the statistics may be up to `ttl_s` seconds old.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class TtlCache:
    """Key → (value, expiry); thread-safe; bounded (oldest entries dropped)."""

    def __init__(self, ttl_s: float = 5.0, max_entries: int = 512):
        self.ttl_s, self.max_entries = ttl_s, max_entries
        self._entries: dict[Hashable, tuple[Any, float]] = {}
        self._lock = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], T], keep: Callable[[T], bool]) -> T:
        """The cached value of `key`, or `compute()` (cached when `keep(value)` is true)."""
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and hit[1] > now:
                return hit[0]
        value = compute()
        if self.ttl_s > 0 and keep(value):
            with self._lock:
                if len(self._entries) >= self.max_entries:
                    self._entries.pop(next(iter(self._entries)))
                self._entries[key] = (value, now + self.ttl_s)
        return value


#: Row counts above this are cached (for up to the TTL); smaller ones are always exact and fresh.
BIG = 10_000


def app_cache(extras: dict[str, Any]) -> TtlCache:
    """The cache of one app (kept in `AppContext.extras`)."""
    cache = extras.get("ttl_cache")
    if cache is None:
        cache = extras.setdefault("ttl_cache", TtlCache())
    return cache
