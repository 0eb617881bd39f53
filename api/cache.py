"""A tiny per-app TTL cache for expensive reads on big ledgers (counts, statistics).

Statistics and list counts over a size threshold (`BIG`) are kept for `ttl_s` seconds, so on a
big ledger they may be that old. Smaller list counts are kept too, but keyed on the database's
write version: a write made through this process shows in the next answer, one made by another
process (a separate pipeline node, another API worker) within 5 s.

No request waits for a recomputation it does not need:
- an expired value is still served (for at most `stale_s` more) while one background thread
  recomputes it (refresh-ahead), so a slow statistics query never sits in a request's latency;
- on a miss, one caller computes and the others asking for the same key wait for its result
  (single flight) instead of running the same slow query side by side.
So `compute` must not use anything bound to the calling request (open its own session).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast

T = TypeVar("T")
log = logging.getLogger(__name__)


class _Flight:
    """One computation in progress; callers of the same key wait on it."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.failed = False


class TtlCache:
    """Key → (value, expiry); thread-safe; bounded (oldest entries dropped)."""

    def __init__(self, ttl_s: float = 5.0, max_entries: int = 512, stale_s: float = 30.0, wait_s: float = 30.0):
        self.ttl_s, self.max_entries, self.stale_s, self.wait_s = ttl_s, max_entries, stale_s, wait_s
        self._entries: dict[Hashable, tuple[Any, float]] = {}
        self._flights: dict[Hashable, _Flight] = {}
        self._lock = threading.Lock()
        self.background_refreshes = 0

    def get_or_compute(self, key: Hashable, compute: Callable[[], T], keep: Callable[[T], bool]) -> T:
        """The cached value of `key`, or `compute()` (cached when `keep(value)` is true). An expired
        value is returned while a background thread recomputes it; on a miss, concurrent callers
        share one computation."""
        found, value = self.get_cached(key, compute, keep)
        if found:
            return cast(T, value)
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                self._flights[key] = flight = _Flight()
        if leader:
            return self._run(key, flight, compute, keep, reraise=True)
        if flight.done.wait(self.wait_s) and not flight.failed:
            return cast(T, flight.value)
        return compute()  # the leader failed or is stuck: answer this caller on its own

    def get_cached(self, key: Hashable, compute: Callable[[], T], keep: Callable[[T], bool]) -> tuple[bool, Any]:
        """(True, value) when `key` has a fresh value, or an expired one still servable (then a
        background refresh is started); (False, None) on a miss. Never blocks on a computation,
        so an async endpoint may call it on the event loop."""
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
            if hit is None:
                return False, None
            value, expiry = hit
            if expiry > now:
                return True, value
            if now - expiry >= self.stale_s:
                return False, None
            if key not in self._flights:
                self._flights[key] = flight = _Flight()
                self.background_refreshes += 1
                threading.Thread(
                    target=self._run, args=(key, flight, compute, keep), name="citywatch-cache-refresh", daemon=True
                ).start()
            return True, value

    def _run(
        self, key: Hashable, flight: _Flight, compute: Callable[[], T], keep: Callable[[T], bool], reraise: bool = False
    ) -> T:
        started = time.monotonic()
        try:
            value = compute()
            flight.value = value
        except Exception:
            flight.failed = True
            if reraise:
                raise
            log.exception("background refresh of %r failed; serving the previous value", key)
            return None  # type: ignore[return-value]
        finally:
            with self._lock:
                self._flights.pop(key, None)
            flight.done.set()
        if self.ttl_s > 0 and keep(value):
            with self._lock:
                if key not in self._entries and len(self._entries) >= self.max_entries:
                    self._entries.pop(next(iter(self._entries)))
                self._entries[key] = (value, started + self.ttl_s)
        return value


#: Row counts above this are cached (for up to the TTL); smaller ones are always exact and fresh.
BIG = 10_000


def app_cache(extras: dict[str, Any]) -> TtlCache:
    """The cache of one app (kept in `AppContext.extras`)."""
    cache = extras.get("ttl_cache")
    if cache is None:
        cache = extras.setdefault("ttl_cache", TtlCache())
    return cache


def page_total(
    context: Any, key: Hashable, count: Any, offset: int, limit: int, shown: int, exact_if_last: bool = True
) -> int:
    """The `total` of a list page: exact and free when the page is the last one and not empty
    (offset + rows shown); otherwise `count` run on the app's database, cached (see `BIG`)."""
    if exact_if_last and shown < limit and (shown > 0 or offset == 0):
        return offset + shown
    database = context.database

    def compute() -> int:
        return database.read_scalar(count) or 0

    def big(n: int) -> bool:
        return n > BIG

    found, total = app_cache(context.extras).get_cached(key, compute, big)
    if found:  # a big count: time-based (may be up to the TTL old)
        return int(total)
    # a small count: kept until this process writes (write_version) or for at most 5 s (other processes)
    total = small_count_cache(context.extras).get_or_compute((key, database.write_version), compute, lambda n: True)
    if big(total):
        app_cache(context.extras).get_or_compute(key, lambda: total, big)
    return total


def small_count_cache(extras: dict[str, Any]) -> TtlCache:
    """The cache of small list counts of one app: exact for this process's own writes (its keys
    carry `Database.write_version`), at most 5 s behind another process's; never served stale."""
    cache = extras.get("small_count_cache")
    if cache is None:
        cache = extras.setdefault("small_count_cache", TtlCache(ttl_s=5.0, stale_s=0.0))
    return cache
