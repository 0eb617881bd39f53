"""A tiny per-app TTL cache for expensive reads on big ledgers (counts, statistics).

Only results over a size threshold are kept, so small ledgers (and tests) always read fresh
values; on a big one a list's `total` or the statistics may be up to `ttl_s` seconds old. When an
entry expires, one request recomputes it while the others keep getting the previous value (for at
most `stale_s` more), so a slow statistics query is never run by every waiting client at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class TtlCache:
    """Key → (value, expiry); thread-safe; bounded (oldest entries dropped)."""

    def __init__(self, ttl_s: float = 5.0, max_entries: int = 512, stale_s: float = 30.0):
        self.ttl_s, self.max_entries, self.stale_s = ttl_s, max_entries, stale_s
        self._entries: dict[Hashable, tuple[Any, float]] = {}
        self._refreshing: set[Hashable] = set()
        self._lock = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], T], keep: Callable[[T], bool]) -> T:
        """The cached value of `key`, or `compute()` (cached when `keep(value)` is true). An expired
        value is still returned while another caller is recomputing it (stale-while-revalidate)."""
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                value, expiry = hit
                if expiry > now or (key in self._refreshing and now - expiry < self.stale_s):
                    return value
            self._refreshing.add(key)
        try:
            value = compute()
        finally:
            with self._lock:
                self._refreshing.discard(key)
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
