"""Read-ahead for a file camera: its frames decoded in a thread of their own, a few frames ahead.

A recorded file replays as fast as the analysis takes its frames, so decoding and analysis would
take turns on one core. `prefetched` runs the frame iterator in a producer thread behind a bounded
queue: decode overlaps detection, order is kept, nothing is dropped (the producer waits while the
queue is full, so a slow analysis never grows memory beyond `depth` frames), and an exception of
the source re-raises in the consumer where it happened. Live cameras do not need it: their reader
thread already decodes beside the analysis pool.

Example:
    >>> list(prefetched(iter(range(5)), depth=2))
    [0, 1, 2, 3, 4]
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

#: How often a waiting producer or consumer re-checks whether the other side has gone (seconds).
POLL_S = 0.1


class _End:
    """The producer's last item: the source ended, or raised `error`."""

    def __init__(self, error: BaseException | None = None):
        self.error = error


def prefetched(source: Iterator[T], depth: int) -> Iterator[T]:
    """Iterate `source` in a daemon thread at most `depth` items ahead (see the module docstring).

    Closing the returned generator (a consumer that breaks out of its loop) stops the producer
    after its current item and closes `source` (a reader's file is closed there).
    """
    if depth < 1:
        raise ValueError("depth must be at least 1")
    items: queue.Queue[T | _End] = queue.Queue(maxsize=depth)
    closed = threading.Event()

    def produce() -> None:
        end = _End()
        try:
            for item in source:
                while not closed.is_set():
                    try:
                        items.put(item, timeout=POLL_S)
                        break
                    except queue.Full:
                        continue
                if closed.is_set():
                    return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            end = _End(exc)
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()
        while not closed.is_set():
            try:
                items.put(end, timeout=POLL_S)
                return
            except queue.Full:
                continue

    producer = threading.Thread(target=produce, name="prefetch", daemon=True)
    producer.start()
    try:
        while True:
            try:
                item = items.get(timeout=POLL_S)
            except queue.Empty:
                if not producer.is_alive() and items.empty():
                    return  # defensive: a producer gone without its end marker
                continue
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item
    finally:
        closed.set()
        producer.join(timeout=5)
