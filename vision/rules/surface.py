"""Model-free floating-debris baseline: items on a water surface against its temporal median.

`WaterSurface` keeps a window of downscaled grey samples of the camera (one every `sample_s` over
`surface_s` stream seconds); their per-pixel median is the clean surface, and their median
absolute deviation (MAD) the pixel's own noise: ripples and glare move and flicker, so the median
washes them out and the MAD marks where they are. The current view is itself the median of the
last three analysed frames (a glint in one frame is gone). A pixel has changed when it differs
from the surface by more than `diff_threshold` *and* by `noise_k` robust standard deviations
(1.4826 x MAD); changed pixels inside the water zones form blobs of `min_area_frac` to
`max_area_frac` of the image. Samples never learn inside `hold` boxes (the live items), so an
item that stops drifting does not become surface. A frame with too much change at once (a cloud,
the camera moved) yields nothing. The debris rule (`vision.rules.debris`) tracks the blobs.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

Box = tuple[float, float, float, float]

#: MAD to a standard deviation, for normally distributed noise.
MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True, slots=True)
class SurfaceBlob:
    """A changed region on the water, in pixels of the original image."""

    xyxy: Box
    area_frac: float
    contrast: float  # mean grey difference from the surface median, 0..255


def changed_mask(
    view: np.ndarray, median: np.ndarray, mad: np.ndarray, diff_threshold: float, noise_k: float
) -> np.ndarray:
    """Boolean map of pixels whose view differs from the surface beyond both thresholds (pure)."""
    diff = np.abs(view.astype(np.float32) - median)
    return (diff > diff_threshold) & (diff > noise_k * MAD_TO_SIGMA * mad)


class WaterSurface:
    """The temporal median of one camera's water surface (see the module docstring).

    Example:
        >>> surface = WaterSurface(surface_s=30.0, sample_s=1.0)
        >>> blobs = surface.update(image, frame.stream_s, water_mask)  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        surface_s: float = 30.0,
        sample_s: float = 1.0,
        warmup_s: float = 10.0,
        diff_threshold: float = 30.0,
        noise_k: float = 4.0,
        min_area_frac: float = 0.0005,
        max_area_frac: float = 0.05,
        max_changed_frac: float = 0.3,
        width: int = 320,
    ):
        self.sample_s, self.warmup_s = sample_s, warmup_s
        self.diff_threshold, self.noise_k = diff_threshold, noise_k
        self.min_area_frac, self.max_area_frac = min_area_frac, max_area_frac
        self.max_changed_frac = max_changed_frac
        self.width = width
        self.samples: deque[np.ndarray] = deque(maxlen=max(3, round(surface_s / sample_s)))
        self._recent: deque[np.ndarray] = deque(maxlen=3)
        self._start_s: float | None = None
        self._sampled_s: float | None = None
        self._median: np.ndarray | None = None
        self._mad: np.ndarray | None = None

    def _grey(self, image: np.ndarray) -> np.ndarray:
        height = max(1, round(image.shape[0] * self.width / image.shape[1]))
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        return cv2.resize(grey, (self.width, height), interpolation=cv2.INTER_AREA)

    @property
    def ready(self) -> bool:
        return self._median is not None

    def update(self, image: np.ndarray, now_s: float, water: np.ndarray, hold: Sequence[Box] = ()) -> list[SurfaceBlob]:
        """Learn from one frame (BGR) at stream time `now_s`; the blobs inside `water` (a boolean
        mask of the original image's size: the rule's water zones less any masked boxes).
        `hold`: pixel boxes of the live items, where the surface does not learn."""
        grey = self._grey(image)
        scale = grey.shape[1] / image.shape[1]
        self._recent.append(grey)
        self._start_s = now_s if self._start_s is None else self._start_s
        if self._sampled_s is None or now_s - self._sampled_s >= self.sample_s:
            self._learn(grey, hold, scale)
            self._sampled_s = now_s
        if self._median is None or self._mad is None or now_s - self._start_s < self.warmup_s:
            return []
        view = np.median(np.stack(self._recent), axis=0)
        inside = cv2.resize(water.astype(np.uint8), (grey.shape[1], grey.shape[0]), interpolation=cv2.INTER_NEAREST)
        changed = changed_mask(view, self._median, self._mad, self.diff_threshold, self.noise_k) & (inside > 0)
        if not inside.any() or changed.sum() > self.max_changed_frac * inside.sum():
            return []
        closed = cv2.morphologyEx(changed.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
        opened = cv2.morphologyEx(closed, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
        count, labels, stats, _ = cv2.connectedComponentsWithStats(opened, connectivity=8)
        diff = np.abs(view - self._median)
        blobs = []
        for i in range(1, count):
            x, y, w, h, area = (int(v) for v in stats[i])
            frac = area / float(grey.size)
            if not self.min_area_frac <= frac <= self.max_area_frac:
                continue
            contrast = float(diff[y : y + h, x : x + w][labels[y : y + h, x : x + w] == i].mean())
            blobs.append(SurfaceBlob((x / scale, y / scale, (x + w) / scale, (y + h) / scale), frac, contrast))
        return blobs

    def _learn(self, grey: np.ndarray, hold: Sequence[Box], scale: float) -> None:
        """Add a sample (the surface median pasted under `hold`) and refresh the median and MAD."""
        sample = grey.astype(np.float32)
        if self._median is not None:
            for x1, y1, x2, y2 in hold:
                c1, r1 = max(0, int(x1 * scale) - 2), max(0, int(y1 * scale) - 2)
                c2, r2 = int(np.ceil(x2 * scale)) + 2, int(np.ceil(y2 * scale)) + 2
                sample[r1:r2, c1:c2] = self._median[r1:r2, c1:c2]
        self.samples.append(sample)
        stack = np.stack(self.samples)
        self._median = np.median(stack, axis=0)
        self._mad = np.median(np.abs(stack - self._median), axis=0)
