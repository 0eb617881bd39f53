"""The API's TTL cache: fresh hits, expiry, and one recompute at a time while others get the old value."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select

from api.cache import TtlCache
from citywatch.domain.db import open_database
from citywatch.domain.tables import Camera


def test_hits_expiry_and_keep() -> None:
    cache = TtlCache(ttl_s=0.2, stale_s=0)  # no stale serving: an expired value is recomputed in line
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    assert cache.get_or_compute("k", compute, keep=lambda v: True) == 1
    assert cache.get_or_compute("k", compute, keep=lambda v: True) == 1  # fresh hit
    assert cache.get_or_compute("small", compute, keep=lambda v: False) == 2
    assert cache.get_or_compute("small", compute, keep=lambda v: False) == 3  # never kept
    time.sleep(0.25)
    assert cache.get_or_compute("k", compute, keep=lambda v: True) == 4  # expired: recomputed


def test_an_expired_value_is_served_while_one_background_thread_recomputes() -> None:
    cache = TtlCache(ttl_s=0.05)
    assert cache.get_or_compute("stats", lambda: "old", keep=lambda v: True) == "old"
    time.sleep(0.1)
    started, release = threading.Event(), threading.Event()
    recomputes: list[str] = []

    def slow() -> str:
        recomputes.append(threading.current_thread().name)
        started.set()
        release.wait(5)
        return "new"

    answers = [cache.get_or_compute("stats", slow, keep=lambda v: True) for _ in range(5)]
    assert started.wait(5)
    assert answers == ["old"] * 5  # nobody waited for the slow query
    assert recomputes == ["citywatch-cache-refresh"] and cache.background_refreshes == 1
    release.set()
    deadline = time.monotonic() + 5
    while cache.get_or_compute("stats", slow, keep=lambda v: True) != "new":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert len(recomputes) == 1


def test_a_miss_is_computed_once_for_all_concurrent_callers() -> None:
    cache = TtlCache(ttl_s=10)
    calls: list[int] = []
    gate = threading.Event()

    def slow() -> int:
        calls.append(1)
        gate.wait(5)
        return 42

    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get_or_compute("k", slow, keep=lambda v: v > 100)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    gate.set()
    for thread in threads:
        thread.join(5)
    # one computation served all eight callers, even though the value is too small to be kept
    assert results == [42] * 8 and calls == [1]
    assert cache.get_cached("k", slow, keep=lambda v: True) == (False, None)


def test_failures_never_poison_the_cache() -> None:
    cache = TtlCache(ttl_s=0.05)
    assert cache.get_or_compute("k", lambda: 1, keep=lambda v: True) == 1
    time.sleep(0.1)

    def broken() -> int:
        raise RuntimeError("database down")

    assert cache.get_or_compute("k", broken, keep=lambda v: True) == 1  # stale value; refresh fails
    deadline = time.monotonic() + 5
    while cache._flights:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert cache.get_or_compute("k", lambda: 2, keep=lambda v: True) in (1, 2)  # still served, retried
    fresh = TtlCache(ttl_s=10)
    try:
        fresh.get_or_compute("m", broken, keep=lambda v: True)
    except RuntimeError as exc:
        assert "database down" in str(exc)
    else:
        raise AssertionError("a failed computation on a miss must reach the caller")
    assert fresh.get_or_compute("m", lambda: 3, keep=lambda v: True) == 3


def test_the_write_version_moves_only_when_a_write_commits(tmp_path) -> None:  # type: ignore[no-untyped-def]
    database = open_database(f"sqlite:///{tmp_path / 'v.db'}")
    try:
        start = database.write_version
        with database.read_session() as session:
            session.scalars(select(Camera)).all()
        with database.session() as session:
            session.scalars(select(Camera)).all()
        assert database.write_version == start  # reads, committed or not, are not writes
        with database.session() as session:
            session.add(Camera(id="cam-v", name="v", district="", street="", source="", enabled=True))
        assert database.write_version == start + 1
        try:
            with database.session() as session:
                session.add(Camera(id="cam-w", name="w", district="", street="", source="", enabled=True))
                session.flush()
                raise RuntimeError("abandon")
        except RuntimeError:
            pass
        assert database.write_version == start + 1  # rolled back: nothing changed
    finally:
        database.dispose()
