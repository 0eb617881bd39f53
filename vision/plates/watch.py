"""Plates over a stay: which analysed frames of a parked vehicle get read, and what the stay's
plate is once they agree.

A `PlateWatch` belongs to one camera's pipeline. While a vehicle stays in a zone of a rule with
`plates: true`, the frame's crop around the vehicle's box, with a margin, is read by a
`PlateReader`: every `every_s` stream seconds for the first half of the stay's `max_reads`
readings, then at doubling intervals (so a plate hidden when the vehicle arrived still gets read
minutes later, within the same budget); the readings accumulate per
stay, and `plate(key)` votes over them (`vision.plates.vote`: the grammatical text with the
highest summed confidence, read on at least `min_agree` frames). Timers run on stream time, so a
replay at any speed reads the same frames. The stays it keeps are bounded (`max_stays`, oldest
dropped first); a reader's failure costs that reading, never the camera.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vision.plates.reader import PlateReader
from vision.plates.vote import PlateReading, vote_plate

log = logging.getLogger(__name__)
#: x1, y1, x2, y2 in pixels of the frame.
Box = tuple[float, float, float, float]


@dataclass
class _Stay:
    next_s: float
    reads: int = 0
    readings: list[PlateReading] = field(default_factory=list)


def vehicle_crop(image: np.ndarray, box: Box, margin: float = 0.15) -> tuple[np.ndarray, tuple[int, int]]:
    """The part of `image` around `box` (x1, y1, x2, y2), widened by `margin` of its size on each
    side and clipped to the image, and its top-left corner (to put plate boxes back in the frame)."""
    height, width = image.shape[:2]
    x1, y1, x2, y2 = box
    dx, dy = (x2 - x1) * margin, (y2 - y1) * margin
    left, top = max(0, int(x1 - dx)), max(0, int(y1 - dy))
    right, bottom = min(width, int(np.ceil(x2 + dx))), min(height, int(np.ceil(y2 + dy)))
    return image[top:bottom, left:right], (left, top)


class PlateWatch:
    """Reads the plates of the stays it is shown and votes per stay.

    Example:
        >>> watch = PlateWatch(reader, every_s=2.0, max_reads=10, min_agree=2)  # doctest: +SKIP
        >>> watch.observe(("kerb-rule", 7), frame.image, stay.xyxy, frame.stream_s)  # each frame  # doctest: +SKIP
        >>> watch.plate(("kerb-rule", 7))  # at the trigger  # doctest: +SKIP
        {'text': '豫D12345', 'color': 'blue', 'confidence': 0.95}
    """

    def __init__(
        self,
        reader: PlateReader,
        *,
        every_s: float = 2.0,
        max_reads: int = 10,
        min_agree: int = 2,
        max_stays: int = 256,
    ):
        self.reader = reader
        self.every_s = every_s
        self.max_reads = max_reads
        self.min_agree = min_agree
        self.max_stays = max_stays
        self.reads = 0
        self.failures = 0
        self._stays: OrderedDict[Hashable, _Stay] = OrderedDict()

    def interval(self, reads: int) -> float:
        """Stream seconds until the next reading of a stay read `reads` times: `every_s` for the
        first half of `max_reads`, then doubling."""
        return self.every_s * 2.0 ** max(0, reads - max(1, self.max_reads // 2))

    def due(self, key: Hashable, stream_s: float) -> bool:
        """Whether the stay `key` should be read on the frame at `stream_s`."""
        stay = self._stays.get(key)
        return stay is None or (stay.reads < self.max_reads and stream_s >= stay.next_s)

    def observe(
        self, key: Hashable, image: np.ndarray, box: tuple[float, float, float, float], stream_s: float
    ) -> bool:
        """Read the stay's vehicle on this frame when it is due; whether it was read."""
        if not self.due(key, stream_s):
            return False
        stay = self._stays.get(key)
        if stay is None:
            stay = self._stays[key] = _Stay(next_s=stream_s)
            while len(self._stays) > self.max_stays:
                self._stays.popitem(last=False)
        stay.reads += 1
        stay.next_s = stream_s + self.interval(stay.reads)
        crop, (left, top) = vehicle_crop(image, box)
        if crop.size == 0:
            return False
        try:
            results = self.reader.read(crop)
        except Exception:  # a reader's failure costs this reading, never the camera
            self.failures += 1
            log.exception("plate reading failed")
            return False
        self.reads += 1
        for result in results[:1]:  # the most confident plate of the vehicle's crop
            x1, y1, x2, y2 = result.box
            frame_box = (float(x1 + left), float(y1 + top), float(x2 + left), float(y2 + top))
            stay.readings.append(PlateReading(result.text, result.color, result.confidence, frame_box))
        return True

    def plate(self, key: Hashable) -> dict[str, Any] | None:
        """The stay's agreed plate (`{"text", "color", "confidence"}`), or None."""
        stay = self._stays.get(key)
        if stay is None:
            return None
        best = vote_plate(stay.readings, min_agree=self.min_agree)
        if best is None:
            return None
        return {"text": best.text, "color": best.color, "confidence": best.confidence}

    def forget(self, key: Hashable) -> None:
        """The stay ended: drop its readings."""
        self._stays.pop(key, None)
