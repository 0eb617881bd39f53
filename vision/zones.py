"""Zone geometry: normalised polygons, box anchors, and which boxes lie in which zone.

Zones are stored in normalised (0..1) image coordinates so they survive a resolution change; a box
is "in" a zone when its anchor point (bottom centre by default: where a vehicle touches the road)
lies inside the polygon.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

Anchor = Literal["bottom_center", "center"]


@dataclass(frozen=True)
class Zone:
    """A named polygon in normalised coordinates.

    Example:
        >>> zone = Zone("kerb", ((0.8, 0.0), (1.0, 0.0), (1.0, 0.3), (0.8, 0.3)))
        >>> zone.contains((0.9, 0.1)), zone.contains((0.5, 0.5))
        (True, False)
    """

    id: str
    polygon: tuple[tuple[float, float], ...]

    def contains(self, point: tuple[float, float]) -> bool:
        """True when a normalised (x, y) point is inside or on the edge of the polygon."""
        contour = np.asarray(self.polygon, dtype=np.float32).reshape(-1, 1, 2)
        return cv2.pointPolygonTest(contour, (float(point[0]), float(point[1])), False) >= 0

    def pixels(self, width: int, height: int) -> np.ndarray:
        """The polygon in pixel coordinates of a width x height image, int32 [N, 2]."""
        return np.round(np.asarray(self.polygon) * [width, height]).astype(np.int32)


def anchor_point(xyxy: tuple[float, float, float, float] | np.ndarray, anchor: Anchor) -> tuple[float, float]:
    """The anchor of a pixel box (x1, y1, x2, y2)."""
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    if anchor == "bottom_center":
        return (x1 + x2) / 2, y2
    return (x1 + x2) / 2, (y1 + y2) / 2


def normalise(point: tuple[float, float], width: int, height: int) -> tuple[float, float]:
    """A pixel point as a fraction of the image size."""
    return point[0] / width, point[1] / height


def box_iou(a: tuple[float, ...] | np.ndarray, b: tuple[float, ...] | np.ndarray) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes."""
    ax1, ay1, ax2, ay2 = (float(v) for v in a)
    bx1, by1, bx2, by2 = (float(v) for v in b)
    iw = max(0.0, min(ax2, bx2) - max(ax1, bx1))
    ih = max(0.0, min(ay2, by2) - max(ay1, by1))
    inter = iw * ih
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    return inter / union if union > 0 else 0.0
