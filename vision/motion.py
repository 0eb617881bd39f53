"""Detection scheduling: run the detector on an analysed frame only when the active rules need it.

Most city cameras watch still scenes most of the time, and a dwell rule needs to know that a parked
vehicle is still there, not to detect it twice a second. `MotionGate` (one per camera, a plain
object with no globals) decides per analysed frame whether the detector runs; on the frames it
skips, the camera's last detections stand (tracks and dwell timers go on). What the rules need
comes in as `DetectionNeeds` (from `CameraPipeline.detection_needs`). The detector runs:

- `first` / `reset` / `disabled`: no reference yet, stream time went backwards, gating off;
- `due`: a live stay would trigger on this frame if its object is still there, so the trigger is
  confirmed by a fresh detection on exactly the frame ungated analysis would raise it;
- `motion`: enough pixels changed inside the active rules' zones or inside a tracked object's box
  (a small grey, blurred copy compared with the copy at the *last detector run*, so slow changes
  accumulate until they cross the threshold and a vehicle creeping in is never missed), at most
  once per `min_interval_s` (default: every second analysed frame, so an entry is seen at most one
  analysis interval late);
- `lost`: a live stay was not seen at the last run (an occlusion, a detector miss, or the object
  left); detection goes on at the motion cadence until the stay is seen again or ends, as it would
  ungated;
- `recheck`: at least every `recheck_s` of stream time, so a stationary stay stays tracked.

Under motion that concerns no tracked object (pedestrians crossing a kerb zone watched for
vehicles), detecting every second frame is still wasteful. With `defer_frames` (D), and while the
scene is calm (the last two runs saw the same watched objects), a moving frame is *deferred*: the
caller holds it unanalysed, up to D in a row, and the next run (`motion` after D deferrals, or
`settle` when the motion stops) decides them: if the objects the rules watch are the same at both
ends (`same_objects`: same labels, anchored in the zones, boxes overlapping), the held frames get
the earlier detections, as a skipped frame would; otherwise each held frame is detected too
(`confirm`), so an object that arrived or left in between is seen on exactly the frame it would be
with every-frame detection. Triggers are never held: a `due` frame runs at once and settles first.

It skips for `still` (no change), `interval` (change, but the last run is more recent than
`min_interval_s`), `defer` (held for the next run) and `idle` (no active rule needs any detector
label). The gate counts runs and skips by reason.

Example:
    >>> gate = MotionGate(recheck_s=10.0)
    >>> decision = gate.decide(frame.image, frame.stream_s, needs=pipeline.detection_needs())  # doctest: +SKIP
    >>> detections = detector.detect(cam, frame.image) if decision.run else previous  # doctest: +SKIP
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import cv2
import numpy as np
import supervision as sv

#: A zone polygon in normalised (0..1) image coordinates, as in `ZoneConfig.polygon`.
Polygon = Sequence[tuple[float, float]]
#: A box in image pixels (x1, y1, x2, y2).
Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class DetectionNeeds:
    """What a camera's active rules need from the detector at the next analysed frame.

    `zones`: polygons (normalised) where a change may start or end a stay; `boxes`: the pixel boxes
    of live, detector-tracked stays (a change inside one means its object may have moved or left);
    `due_s`: the earliest stream time at which a live stay would trigger if still there;
    `stale_since_s`: the oldest `last_seen_s` of those stays (one older than the last detector run
    was not seen by it); `labels`: False when no active rule needs any detector label.
    """

    zones: tuple[Polygon, ...] = ()
    boxes: tuple[Box, ...] = ()
    due_s: float | None = None
    stale_since_s: float | None = None
    labels: bool = True


@dataclass(frozen=True, slots=True)
class GateDecision:
    """Whether to run the detector on this frame, and why (reasons: see the module docstring).
    `changed` is the changed fraction of the watched pixels (zones and tracked boxes)."""

    run: bool
    reason: str
    changed: float = 0.0


def _relevant(
    detections: sv.Detections, labels: frozenset[str], zones: Sequence[Polygon], width: int, height: int
) -> tuple[np.ndarray, list[str]]:
    """Boxes and labels of the detections with a label in `labels` whose bottom centre or centre
    (the two rule anchors) lies in one of `zones` (normalised polygons; none: anywhere)."""
    names = detections.data.get("label") if len(detections) else None
    if names is None:
        return np.zeros((0, 4), dtype=np.float32), []
    contours = [np.asarray(zone, dtype=np.float32).reshape(-1, 1, 2) for zone in zones]
    keep = []
    for i, (box, label) in enumerate(zip(detections.xyxy, names, strict=True)):
        if str(label) not in labels:
            continue
        x = float(box[0] + box[2]) / 2 / max(1, width)
        anchors = ((x, float(box[3]) / max(1, height)), (x, float(box[1] + box[3]) / 2 / max(1, height)))
        inside = not contours or any(
            cv2.pointPolygonTest(contour, point, False) >= 0 for contour in contours for point in anchors
        )
        if inside:
            keep.append(i)
    return detections.xyxy[keep].astype(np.float32), [str(names[i]) for i in keep]


def same_objects(
    before: sv.Detections,
    after: sv.Detections,
    labels: frozenset[str],
    zones: Sequence[Polygon] = (),
    size: tuple[int, int] = (1, 1),
    iou: float = 0.5,
) -> bool:
    """True when the objects the rules watch are the same in both detections: those of `labels`
    anchored in `zones` (normalised; none: anywhere; `size` is the image's (width, height)), as
    many of each label, paired one to one with boxes overlapping by at least `iou`."""
    a_boxes, a_labels = _relevant(before, labels, zones, *size)
    b_boxes, b_labels = _relevant(after, labels, zones, *size)
    if sorted(a_labels) != sorted(b_labels):
        return False
    if not a_labels:
        return True
    overlap = sv.box_iou_batch(a_boxes, b_boxes)
    used: set[int] = set()
    for i in np.argsort(-overlap.max(axis=1)):
        candidates = [j for j in np.argsort(-overlap[i]) if j not in used and b_labels[j] == a_labels[i]]
        if not candidates or overlap[i, candidates[0]] < iou:
            return False
        used.add(int(candidates[0]))
    return True


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
        min_interval_s: while there is motion (or a stay is lost), run at most once per this much
            stream time (0: every moving frame; None: two analysis intervals, from the frame
            spacing the gate sees), so an object's entry is seen at most one interval late.
        enabled: False makes every decision `run` (reason `disabled`), still counted.
        defer_frames: under motion, hold up to this many frames for the next run to settle instead
            of detecting every second one (see `same_objects` and the runtime); 0: never defer.
    """

    def __init__(
        self,
        recheck_s: float = 10.0,
        threshold: float = 0.005,
        pixel_delta: int = 18,
        width: int = 160,
        enabled: bool = True,
        min_interval_s: float | None = None,
        defer_frames: int = 0,
    ):
        if recheck_s <= 0:
            raise ValueError("recheck_s must be positive")
        self.recheck_s = recheck_s
        self.threshold = threshold
        self.pixel_delta = pixel_delta
        self.width = width
        self.enabled = enabled
        self.min_interval_s = min_interval_s
        self.defer_frames = max(0, int(defer_frames))
        self._deferred = 0
        #: Set by the caller after each run: True when the watched objects were the same as at the
        #: run before. Deferral only pays while they stay the same, so the gate defers only then.
        self.calm = False
        self.runs = 0
        self.skips = 0
        self.reasons: Counter[str] = Counter()
        self._reference: np.ndarray | None = None
        self._last_run_s: float | None = None
        self._mask: np.ndarray | None = None
        self._mask_key: tuple | None = None
        self._last_seen_s: float | None = None
        #: Smallest spacing of analysed frames seen (stream s), for the automatic interval.
        self._spacing_s: float | None = None

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

    def interval_s(self) -> float:
        """The least stream time between two runs under motion (see `min_interval_s`)."""
        if self.min_interval_s is not None:
            return self.min_interval_s
        return 2 * self._spacing_s if self._spacing_s else 0.0

    def _watch_mask(self, base: np.ndarray, boxes: Sequence[Box], scale: float) -> np.ndarray:
        """The zones' mask with the tracked boxes added (boxes in full-image pixels)."""
        if not boxes:
            return base
        mask = base.copy()
        height, width = mask.shape[:2]
        for x1, y1, x2, y2 in boxes:
            left, top = max(0, int(x1 * scale)), max(0, int(y1 * scale))
            right, bottom = min(width, int(np.ceil(x2 * scale)) + 1), min(height, int(np.ceil(y2 * scale)) + 1)
            mask[top:bottom, left:right] = 255
        return mask

    def decide(
        self,
        image: np.ndarray,
        stream_s: float,
        zones: Sequence[object] = (),
        *,
        needs: DetectionNeeds | None = None,
        can_defer: bool = True,
    ) -> GateDecision:
        """Decide for one analysed frame (BGR, any size, or an already-small grey image).

        `needs` (zones, tracked boxes, due triggers, stale stays) comes from the camera's pipeline;
        without it, `zones` alone are watched (ZoneConfigs or normalised point lists; empty: the
        whole image). Frames must come in stream-time order; a jump backwards resets the gate.
        With `defer_frames`, a moving frame may be deferred (`defer`: the caller holds it, unanalysed,
        until the next run settles it); `can_defer` False (the caller has no room to hold one) makes
        it an ordinary motion decision.
        """
        if self._last_seen_s is not None and stream_s > self._last_seen_s:
            step = stream_s - self._last_seen_s
            self._spacing_s = step if self._spacing_s is None else min(self._spacing_s, step)
        self._last_seen_s = stream_s
        if not self.enabled:
            return self._run(None, stream_s, "disabled", 0.0)
        if needs is not None and not needs.labels:
            return self._skip("idle", 0.0)
        watched = needs.zones if needs is not None else zones
        small = self.small(image)
        mask = self._mask_for(watched, small.shape[:2])
        if self._reference is None or self._last_run_s is None:
            return self._run(small, stream_s, "first", 0.0)
        if stream_s < self._last_run_s:
            return self._run(small, stream_s, "reset", 0.0)
        if needs is not None and needs.due_s is not None and stream_s >= needs.due_s:
            return self._run(small, stream_s, "due", 0.0)
        since_run = stream_s - self._last_run_s
        lost = needs is not None and needs.stale_since_s is not None and needs.stale_since_s < self._last_run_s
        if needs is not None and needs.boxes:
            mask = self._watch_mask(mask, needs.boxes, small.shape[1] / max(1, image.shape[1]))
        diff = cv2.absdiff(small, self._reference)
        moved = (diff > self.pixel_delta) & (mask > 0)
        area = max(1, int(np.count_nonzero(mask)))
        changed = float(np.count_nonzero(moved)) / area
        if changed >= self.threshold and not lost and self.defer_frames and can_defer and self.calm:
            if self._deferred < self.defer_frames:
                self._deferred += 1
                return self._skip("defer", changed)
            return self._run(small, stream_s, "motion", changed)
        if self._deferred:  # a deferred stretch always ends with a run that settles it
            return self._run(small, stream_s, "settle", changed)
        if changed >= self.threshold or lost:
            if since_run >= self.interval_s() - 1e-6:
                return self._run(small, stream_s, "motion" if changed >= self.threshold else "lost", changed)
            return self._skip("interval", changed)
        if since_run >= self.recheck_s:
            return self._run(small, stream_s, "recheck", changed)
        return self._skip("still", changed)

    def _skip(self, reason: str, changed: float) -> GateDecision:
        self.skips += 1
        self.reasons[reason] += 1
        return GateDecision(False, reason, changed)

    def _run(self, small: np.ndarray | None, stream_s: float, reason: str, changed: float) -> GateDecision:
        self._deferred = 0
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
            min_interval_s=getattr(detector, "motion_min_interval_s", None),
            defer_frames=getattr(detector, "motion_defer_frames", 0),
            enabled=bool(getattr(detector, "motion_gating", True)),
        )

    @property
    def skip_ratio(self) -> float:
        """Fraction of decided frames that skipped the detector."""
        total = self.runs + self.skips
        return self.skips / total if total else 0.0

    def stats(self) -> dict[str, object]:
        """Counts for health/metrics: runs, skips and runs by reason."""
        return {"runs": self.runs, "skips": self.skips, "reasons": dict(self.reasons)}
