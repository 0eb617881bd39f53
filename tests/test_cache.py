"""The API's TTL cache: fresh hits, expiry, and one recompute at a time while others get the old value."""

from __future__ import annotations

import threading
import time

from api.cache import TtlCache


def test_hits_expiry_and_keep() -> None:
    cache = TtlCache(ttl_s=0.2)
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


def test_expired_value_served_while_one_caller_recomputes() -> None:
    cache = TtlCache(ttl_s=0.05)
    assert cache.get_or_compute("stats", lambda: "old", keep=lambda v: True) == "old"
    time.sleep(0.1)
    started, release = threading.Event(), threading.Event()
    recomputes: list[str] = []

    def slow() -> str:
        recomputes.append("slow")
        started.set()
        release.wait(5)
        return "new"

    refresher = threading.Thread(target=lambda: cache.get_or_compute("stats", slow, keep=lambda v: True))
    refresher.start()
    assert started.wait(5)
    others = [cache.get_or_compute("stats", slow, keep=lambda v: True) for _ in range(5)]
    assert others == ["old"] * 5 and recomputes == ["slow"]  # nobody else ran the slow query
    release.set()
    refresher.join(5)
    assert cache.get_or_compute("stats", slow, keep=lambda v: True) == "new"
