"""A process-wide byte budget: how much memory the cameras may hold in deferred frames, together.

Deferred detection (`vision.motion`, `detector.motion_defer_frames`) keeps a few analysed frames of
a busy camera unanalysed until the next detector run settles them. Each such frame is a full
decoded image (a D1 frame is 1.2 MB), so the process sets one ceiling for all cameras: a camera
that finds no room does not defer (it detects as it would without deferral), so memory stays
bounded whatever the number of busy cameras.

Example:
    >>> budget = ByteBudget(10)
    >>> budget.take(6), budget.take(6), budget.used
    (True, False, 6)
"""

from __future__ import annotations

import threading

#: Ceiling of deferred frames of all cameras of one process (about 200 D1 frames).
DEFERRED_FRAMES_BYTES = 256 * 2**20


class ByteBudget:
    """A thread-safe byte counter with a ceiling: `take` what fits, `give` it back."""

    def __init__(self, limit: int):
        self.limit = limit
        self.used = 0
        self.refused = 0
        self._lock = threading.Lock()

    def take(self, size: int) -> bool:
        """Reserve `size` bytes; False (nothing reserved) when they do not fit."""
        with self._lock:
            if self.used + size > self.limit:
                self.refused += 1
                return False
            self.used += size
            return True

    def give(self, size: int) -> None:
        """Release `size` bytes taken before."""
        with self._lock:
            self.used = max(0, self.used - size)
