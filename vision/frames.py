"""The unit that flows from a stream reader to the detector and the rules: one decoded frame."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, slots=True)
class Frame:
    """A decoded frame of one camera.

    `stream_s` is stream time (seconds from the start of the source, from the packet pts, kept
    monotonic across reconnects and loops); every timer in the rules runs on it. `wall_s` is when
    the frame arrived (time.time()), kept only for latency figures. `image` is BGR, HxWx3 uint8.
    """

    camera_id: str
    seq: int
    stream_s: float
    wall_s: float
    image: np.ndarray = field(repr=False)

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])
