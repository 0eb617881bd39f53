"""Model-free litter baseline: new static objects against a slowly learned clean background.

`DualBackground` keeps two running averages of a camera's downscaled grey image:

* the *slow* one (time constant `slow_tau_s`, minutes) is the clean scene; it starts as the
  median of the warm-up frames (so people walking through the first seconds leave no ghosts) and
  never learns inside the boxes of tracked persons and vehicles;
* the *fast* one (time constant `fast_tau_s`, about a second) is the recent scene.

Pixels that differ from the slow background, outside tracked boxes, form candidate blobs; a blob
is *static* when it also matches the fast background (it stopped moving). The litter rule times
how long a blob stays at one place (`vision.rules_litter`). A frame in which too much of the image
changed at once (lighting, camera moved) yields nothing and pulls the slow background towards the
scene at the fast rate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class Blob:
    """A changed region, in pixels of the original image."""

    xyxy: Box
    area_frac: float
    contrast: float  # mean grey difference from the clean background, 0..255
    static: bool


class DualBackground:
    """Dual-rate background model of one camera (see the module docstring)."""

    def __init__(
        self,
        *,
        slow_tau_s: float = 600.0,
        fast_tau_s: float = 1.0,
        warmup_s: float = 10.0,
        diff_threshold: float = 28.0,
        min_area_frac: float = 0.0005,
        max_area_frac: float = 0.05,
        max_changed_frac: float = 0.3,
        width: int = 320,
    ):
        self.slow_tau_s, self.fast_tau_s, self.warmup_s = slow_tau_s, fast_tau_s, warmup_s
        self.diff_threshold = diff_threshold
        self.min_area_frac, self.max_area_frac = min_area_frac, max_area_frac
        self.max_changed_frac = max_changed_frac
        self.width = width
        self.slow: np.ndarray | None = None
        self.fast: np.ndarray | None = None
        self._warmup: list[np.ndarray] = []
        self._start_s: float | None = None
        self._last_s: float | None = None

    @property
    def ready(self) -> bool:
        return self.slow is not None

    def _grey(self, image: np.ndarray) -> np.ndarray:
        height = max(1, round(image.shape[0] * self.width / image.shape[1]))
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        small = cv2.resize(grey, (self.width, height), interpolation=cv2.INTER_AREA)
        return cv2.GaussianBlur(small, (5, 5), 0).astype(np.float32)

    def update(self, image: np.ndarray, now_s: float, exclude: Sequence[Box] = ()) -> list[Blob]:
        """Learn from one frame (BGR) at stream time `now_s`; return the candidate blobs.

        `exclude`: pixel boxes of tracked persons and vehicles, never blobs, never learned.
        """
        grey = self._grey(image)
        scale = grey.shape[1] / image.shape[1]
        dt = 0.0 if self._last_s is None else max(0.0, now_s - self._last_s)
        self._last_s = now_s
        if self.slow is None:
            self._start_s = now_s if self._start_s is None else self._start_s
            self._warmup.append(grey)
            if len(self._warmup) > 60:
                self._warmup = self._warmup[::2]
            if now_s - self._start_s < self.warmup_s:
                self.fast = grey.copy() if self.fast is None else self.fast
                return []
            self.slow = np.median(np.stack(self._warmup), axis=0).astype(np.float32)
            self.fast = grey.copy()
            self._warmup = []
            return []
        assert self.fast is not None
        keep = np.full(grey.shape, 255, dtype=np.uint8)
        for x1, y1, x2, y2 in exclude:
            pad_x, pad_y = 0.1 * (x2 - x1), 0.1 * (y2 - y1)
            cv2.rectangle(
                keep,
                (int((x1 - pad_x) * scale), int((y1 - pad_y) * scale)),
                (math.ceil((x2 + pad_x) * scale), math.ceil((y2 + pad_y) * scale)),
                0,
                -1,
            )
        diff = cv2.absdiff(grey, self.slow)
        changed = ((diff > self.diff_threshold) & (keep > 0)).astype(np.uint8)
        fast_alpha = 1.0 - math.exp(-dt / self.fast_tau_s) if dt > 0 else 0.0
        slow_alpha = 1.0 - math.exp(-dt / self.slow_tau_s) if dt > 0 else 0.0
        blobs: list[Blob] = []
        if changed.mean() > self.max_changed_frac:  # global change: re-learn, report nothing
            cv2.accumulateWeighted(grey, self.slow, fast_alpha, mask=keep)
        else:
            opened = cv2.morphologyEx(changed, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
            closed = cv2.morphologyEx(opened, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
            count, _labels, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
            total = float(grey.size)
            moving = cv2.absdiff(grey, self.fast)
            for i in range(1, count):
                x, y, w, h, area = (int(v) for v in stats[i])
                frac = area / total
                if not self.min_area_frac <= frac <= self.max_area_frac:
                    continue
                region = _labels[y : y + h, x : x + w] == i
                contrast = float(diff[y : y + h, x : x + w][region].mean())
                static = float(moving[y : y + h, x : x + w][region].mean()) < self.diff_threshold / 2
                box = (x / scale, y / scale, (x + w) / scale, (y + h) / scale)
                blobs.append(Blob(box, frac, contrast, static))
            if slow_alpha > 0:
                cv2.accumulateWeighted(grey, self.slow, slow_alpha, mask=keep)
        if fast_alpha > 0:
            cv2.accumulateWeighted(grey, self.fast, fast_alpha)
        return blobs


def baseline_of(rule: Any) -> DualBackground | None:
    """The background baseline an object rule's config asks for (`source` baseline or both: its
    `background_s`, `warmup_s`, `diff_threshold` and area limits), or None (detector only)."""
    if rule.source not in ("baseline", "both"):
        return None
    return DualBackground(
        slow_tau_s=rule.background_s,
        warmup_s=rule.warmup_s,
        diff_threshold=rule.diff_threshold,
        min_area_frac=rule.min_area_frac,
        max_area_frac=rule.max_area_frac,
    )
