"""A plate's colour from its crop, as a pure function: the background of a plate covers most of the
crop, so the hue of its saturated pixels says blue, yellow or green, and a crop with few saturated
pixels is white or black by its median brightness.

Example:
    >>> import numpy as np
    >>> plate_color(np.full((40, 120, 3), (180, 70, 10), np.uint8))  # a blue plate's BGR
    'blue'
"""

from __future__ import annotations

import cv2
import numpy as np

#: OpenCV hue ranges (0-180) of the saturated plate colours.
HUE_RANGES = {"yellow": (11, 34), "green": (35, 95), "blue": (96, 135)}
#: Saturation and value a pixel needs to count as coloured.
MIN_SATURATION, MIN_VALUE = 70, 50
#: The share of coloured pixels above which the plate is taken for a coloured one.
MIN_COLOURED_SHARE = 0.2


def plate_color(crop_bgr: np.ndarray) -> str:
    """`blue`, `yellow`, `green`, `white` or `black`: the hue class most coloured pixels of the crop
    fall in when enough are coloured, else white or black by the crop's median brightness."""
    if crop_bgr.size == 0:
        return "blue"
    hsv = cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2HSV).reshape(-1, 3)
    hue, saturation, value = hsv[:, 0], hsv[:, 1], hsv[:, 2]
    coloured = (saturation >= MIN_SATURATION) & (value >= MIN_VALUE)
    counts = {
        name: int(np.count_nonzero(coloured & (hue >= lo) & (hue <= hi))) for name, (lo, hi) in HUE_RANGES.items()
    }
    best = max(counts, key=lambda name: counts[name])
    if counts[best] >= MIN_COLOURED_SHARE * len(hsv):
        return best
    return "white" if float(np.median(value)) >= 128 else "black"
