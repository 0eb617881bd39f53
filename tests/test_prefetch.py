"""Read-ahead of a file camera's frames: order kept, bounded, errors where they happened, stops cleanly."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from vision.streams.prefetch import prefetched


def test_items_come_in_order_and_all_of_them() -> None:
    assert list(prefetched(iter(range(100)), depth=3)) == list(range(100))


def test_the_producer_runs_at_most_depth_items_ahead() -> None:
    produced: list[int] = []

    def source() -> Iterator[int]:
        for i in range(50):
            produced.append(i)
            yield i

    items = prefetched(source(), depth=2)
    assert next(items) == 0
    time.sleep(0.3)  # a slow consumer: the producer must wait, not run on
    # item 0 handed over, two waiting in the queue, one more produced and blocked on the full queue
    assert len(produced) <= 4
    assert list(items) == list(range(1, 50))


def test_an_error_of_the_source_reaches_the_consumer_after_the_items_before_it() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise RuntimeError("corrupt file")

    got: list[int] = []
    with pytest.raises(RuntimeError, match="corrupt file"):
        for item in prefetched(source(), depth=4):
            got.append(item)
    assert got == [1, 2]


def test_breaking_out_stops_the_producer_and_closes_the_source() -> None:
    closed = threading.Event()

    def source() -> Iterator[int]:
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    before = threading.active_count()
    for item in prefetched(source(), depth=2):
        if item == 5:
            break
    assert closed.wait(5)
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == before


def test_depth_must_be_positive() -> None:
    with pytest.raises(ValueError):
        list(prefetched(iter(()), depth=0))
