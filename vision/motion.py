"""Motion gating: skip the detector on frames where nothing moved inside a camera's zones.

Most city cameras watch still scenes most of the time. `MotionGate` (one per camera, a plain object
with no globals) compares a small grey, blurred copy of each analysed frame with the copy at the
last detector run, only inside the zones' masks. The detector runs when enough zone pixels changed,
when there is no reference yet, when the zones or frame size change, and at least every `recheck_s`
of stream time, so that parked vehicles (which do not move) stay tracked and their dwell timers keep
running. The gate counts runs and skips, with reasons.

Comparing against the frame of the *last detector run* (not the previous frame) means slow changes
accumulate until they cross the threshold, so a vehicle creeping in is never missed.

Example:
    >>> gate = MotionGate(recheck_s=10.0)
    >>> decision = gate.decide(frame.image, frame.stream_s, zones)  # doctest: +SKIP
    >>> detections = detector.detect(cam, frame.image) if decision.run else previous  # doctest: +SKIP
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import cv2
import numpy as np

#: A zone polygon in normalised (0..1) image coordinates, as in `ZoneConfig.polygon`.
Polygon = Sequence[tuple[float, float]]


@dataclass(frozen=True, slots=True)
class GateDecision:
    """Whether to run the detector on this frame, and why: runs for `first`, `motion`, `recheck`,
    `reset`, `disabled`; skips for `still` (no change in the zones) and `interval` (motion, but the
    last run is more recent than `min_interval_s`). `changed` is the changed fraction of zone pixels."""

    run: bool
    reason: str
    changed: float = 0.0


def _polygon_points(zone: object) -> Polygon:
    """A zone's polygon: a `ZoneConfig`-like object with `.polygon`, or the point list itself."""
    return cast(Polygon, getattr(zone, "polygon", zone))


def zone_mask(zones: Sequence[object], width: int, height: int, margin: int = 2) -> np.ndarray:
    """A uint8 mask (255 inside any zone, grown by `margin` pixels) of a `width` x `height` image.

    No zones means the whole image.
    """
    if not zones:
        return np.full((height, width), 255, dtype=np.uint8)
    mask = np.zeros((height, width), dtype=np.uint8)
    for zone in zones:
        pts = np.array([[x * (width - 1), y * (height - 1)] for x, y in _polygon_points(zone)], dtype=np.float32)
        cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 255)
    if margin > 0:
        mask = np.asarray(cv2.dilate(mask, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)), dtype=np.uint8)
    return mask


class MotionGate:
    """Per-camera frame-difference gate; see the module docstring.

    Args:
        recheck_s: longest stream time between two detector runs.
        threshold: fraction of zone pixels that must change to count as motion.
        pixel_delta: grey-level difference (0..255) at which a pixel counts as changed.
        width: width of the downscaled comparison image (height keeps the aspect ratio).
        min_interval_s: while there is motion, run at most once per this much stream time (0: every
            moving frame). Dwell rules measure tens of seconds, so 1 s loses nothing they need.
        enabled: False makes every decision `run` (reason `disabled`), still counted.
    """

    def __init__(
        self,
        recheck_s: float = 10.0,
        threshold: float = 0.005,
        pixel_delta: int = 18,
        width: int = 160,
        enabled: bool = True,
        min_interval_s: float = 1.0,
    ):
        if recheck_s <= 0:
            raise ValueError("recheck_s must be positive")
        self.recheck_s = recheck_s
        self.threshold = threshold
        self.pixel_delta = pixel_delta
        self.width = width
        self.enabled = enabled
        self.min_interval_s = min_interval_s
        self.runs = 0
        self.skips = 0
        self.reasons: Counter[str] = Counter()
        self._reference: np.ndarray | None = None
        self._last_run_s: float | None = None
        self._mask: np.ndarray | None = None
        self._mask_key: tuple | None = None

    def small(self, image: np.ndarray) -> np.ndarray:
        """The downscaled, grey, blurred copy the gate compares (exposed for tests and reuse)."""
        height, width = image.shape[:2]
        if width != self.width:
            size = (self.width, max(1, round(height * self.width / width)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        return cv2.GaussianBlur(grey, (5, 5), 0)

    def _mask_for(self, zones: Sequence[object], shape: tuple[int, int]) -> np.ndarray:
        key = (shape, tuple(tuple(map(tuple, _polygon_points(z))) for z in zones))
        if key != self._mask_key:
            self._mask = zone_mask(zones, shape[1], shape[0])
            self._mask_key = key
            self._reference = None  # new zones or size: start again from a detector run
        assert self._mask is not None
        return self._mask

    def decide(self, image: np.ndarray, stream_s: float, zones: Sequence[object] = ()) -> GateDecision:
        """Decide for one analysed frame (BGR, any size, or an already-small grey image).

        `zones` are `ZoneConfig`s or point lists in normalised coordinates; empty means the whole
        image. Frames must come in stream-time order; a jump backwards resets the gate.
        """
        if not self.enabled:
            return self._run(None, stream_s, "disabled", 0.0)
        small = self.small(image)
        mask = self._mask_for(zones, small.shape[:2])
        if self._reference is None or self._last_run_s is None:
            return self._run(small, stream_s, "first", 0.0)
        if stream_s < self._last_run_s:
            return self._run(small, stream_s, "reset", 0.0)
        diff = cv2.absdiff(small, self._reference)
        moved = (diff > self.pixel_delta) & (mask > 0)
        area = max(1, int(np.count_nonzero(mask)))
        changed = float(np.count_nonzero(moved)) / area
        if changed >= self.threshold:
            if stream_s - self._last_run_s >= self.min_interval_s:
                return self._run(small, stream_s, "motion", changed)
            self.skips += 1
            self.reasons["interval"] += 1
            return GateDecision(False, "interval", changed)
        if stream_s - self._last_run_s >= self.recheck_s:
            return self._run(small, stream_s, "recheck", changed)
        self.skips += 1
        self.reasons["still"] += 1
        return GateDecision(False, "still", changed)

    def _run(self, small: np.ndarray | None, stream_s: float, reason: str, changed: float) -> GateDecision:
        self._reference = small
        self._last_run_s = stream_s
        self.runs += 1
        self.reasons[reason] += 1
        return GateDecision(True, reason, changed)

    @classmethod
    def from_config(cls, detector: object) -> MotionGate:
        """A gate set from a `DetectorConfig` (`motion_gating`, `recheck_s`, `motion_threshold`,
        `motion_min_interval_s`); gating off gives a gate that always runs (and still counts)."""
        return cls(
            recheck_s=getattr(detector, "recheck_s", 10.0),
            threshold=getattr(detector, "motion_threshold", 0.005),
            min_interval_s=getattr(detector, "motion_min_interval_s", 1.0),
            enabled=bool(getattr(detector, "motion_gating", False)),
        )

    @property
    def skip_ratio(self) -> float:
        """Fraction of decided frames that skipped the detector."""
        total = self.runs + self.skips
        return self.skips / total if total else 0.0

    def stats(self) -> dict[str, object]:
        """Counts for health/metrics: runs, skips and runs by reason."""
        return {"runs": self.runs, "skips": self.skips, "reasons": dict(self.reasons)}
