"""The `floating_debris` rule (河面漂浮物): an item floating on a water zone for `persist_s`, one
event per item, also while it drifts.

Two sources, either or both per rule: tracked detections of a trained detector's `debris` label,
and blobs of the model-free `WaterSurface` baseline (`vision.rules.surface`: robust to ripples and
glare). Baseline blobs get their identity from a ByteTrack of their own (Roboflow's `trackers`,
through `vision.track.CameraTracker`, on stream time), so an item drifting across the surface
keeps one id; `too_fast` (pure) drops what drifts faster than `max_speed` (a boat, a bird). The
timing is `vision.rules.base.step_dwell`: seen for `persist_s` raises once, unseen for `grace_s`
ends (the item sank, drifted out of the zone or was fished out); a track switch is bridged by box
overlap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np
import supervision as sv

from citywatch.config import FloatingDebrisRuleConfig, ZoneConfig
from vision.labels import MOVERS, expand_labels
from vision.rules.base import (
    Box,
    DwellParams,
    DwellState,
    Observation,
    Stay,
    StayRule,
    StayUpdate,
    observe,
    step_dwell,
    zones_of,
)
from vision.rules.surface import WaterSurface
from vision.track import CameraTracker, TrackedObject
from vision.zones import Zone, box_iou, normalise

#: The label of an item only the baseline saw.
BASELINE_LABEL = "debris"


def centre(box: Box) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def too_fast(
    first: tuple[float, Box], now: tuple[float, Box], width: int, max_speed: float, min_s: float = 2.0
) -> bool:
    """Whether an item seen at `first` (stream s, box) and at `now` drifted faster than `max_speed`
    image widths per second; undecided (False) before `min_s` of track."""
    elapsed = now[0] - first[0]
    if elapsed < min_s:
        return False
    (x0, y0), (x1, y1) = centre(first[1]), centre(now[1])
    return math.hypot(x1 - x0, y1 - y0) / width / elapsed > max_speed


def water_mask(zones: Sequence[Zone], width: int, height: int, exclude: Sequence[Box] = ()) -> np.ndarray:
    """Boolean mask of the zones' pixels less the `exclude` boxes."""
    mask = np.zeros((height, width), np.uint8)
    for zone in zones:
        cv2.fillPoly(mask, [zone.pixels(width, height).reshape(-1, 1, 2)], 1)
    for x1, y1, x2, y2 in exclude:
        cv2.rectangle(mask, (int(x1), int(y1)), (math.ceil(x2), math.ceil(y2)), 0, -1)
    return mask > 0


class DebrisRule(StayRule):
    """Per-camera state of one `floating_debris` rule (config:
    `citywatch.config.rules.FloatingDebrisRuleConfig`); `evaluate` per analysed frame.

    Example:
        >>> rule = DebrisRule(config, camera.zones)  # doctest: +SKIP
        >>> updates = rule.evaluate(objects, frame.stream_s, 640, 360, frame.image)  # doctest: +SKIP
    """

    type = "floating_debris"

    def __init__(self, rule: FloatingDebrisRuleConfig, zones: Sequence[ZoneConfig], analysis_fps: float = 2.0):
        self.config = rule
        self.id: str = rule.id
        self.zones = zones_of(rule, zones)
        self.labels = expand_labels(rule.labels)
        self.use_detector = rule.source in ("detector", "both")
        self.surface = (
            WaterSurface(
                surface_s=rule.surface_s,
                sample_s=rule.sample_s,
                warmup_s=rule.warmup_s,
                diff_threshold=rule.diff_threshold,
                noise_k=rule.noise_k,
                min_area_frac=rule.min_area_frac,
                max_area_frac=rule.max_area_frac,
            )
            if rule.source in ("baseline", "both")
            else None
        )
        #: Detector labels: its own (detector source) and the movers the baseline masks.
        self.needs = (self.labels if self.use_detector else frozenset()) | (MOVERS if self.surface else frozenset())
        self.params = DwellParams(
            min_dwell_s=rule.persist_s,
            grace_s=rule.grace_s,
            reassociate_iou=0.1,
            cooldown_s=rule.cooldown_s,
            rearm_s=rule.rearm_s,
        )
        self.state = DwellState()
        self.tracker = CameraTracker(analysis_fps, lost_s=max(2.0, rule.grace_s))
        #: Baseline track id -> (stream s, box) when first seen, stream s when last seen, too fast.
        self._tracks: dict[int, tuple[tuple[float, Box], float, bool]] = {}

    def evaluate(
        self, objects: Sequence[TrackedObject], now_s: float, width: int, height: int, image: np.ndarray | None = None
    ) -> list[StayUpdate]:
        observations: list[Observation] = []
        if self.use_detector:
            observations = observe(objects, self.zones, self.labels, self.config.anchor, width, height)
        if self.surface is not None and image is not None:
            for obs in self._baseline(objects, now_s, width, height, image):
                if not any(box_iou(o.xyxy, obs.xyxy) > 0.3 for o in observations):
                    observations.append(obs)
        self.state, updates = step_dwell(self.state, observations, now_s, self.params)
        return updates

    def tracked_stays(self) -> tuple[Stay, ...]:
        """Live stays of detector-tracked items (baseline items have negative ids)."""
        return tuple(stay for stay in self.state.stays if stay.track_id >= 0)

    def _baseline(
        self, objects: Sequence[TrackedObject], now_s: float, width: int, height: int, image: np.ndarray
    ) -> list[Observation]:
        """The surface's blobs, tracked; the slow ones as observations (ids: -(track id) - 1)."""
        assert self.surface is not None
        masked = [obj.xyxy for obj in objects if obj.label in MOVERS]
        hold = [stay.xyxy for stay in self.state.stays]
        blobs = self.surface.update(image, now_s, water_mask(self.zones, width, height, masked), hold)
        detections = sv.Detections(
            xyxy=np.array([b.xyxy for b in blobs], dtype=np.float32).reshape(-1, 4),
            confidence=np.array([min(1.0, 0.5 + b.contrast / 255) for b in blobs], dtype=np.float32),
            class_id=np.zeros(len(blobs), dtype=int),
            data={"label": np.array([BASELINE_LABEL] * len(blobs), dtype=object)},
        )
        out = []
        for item in self.tracker.update(detections, now_s):
            first, _, fast = self._tracks.get(item.track_id, ((now_s, item.xyxy), now_s, False))
            fast = fast or too_fast(first, (now_s, item.xyxy), width, self.config.max_speed)
            self._tracks[item.track_id] = (first, now_s, fast)
            zone = next((z for z in self.zones if z.contains(normalise(centre(item.xyxy), width, height))), None)
            if zone is not None and not fast:
                out.append(Observation(-item.track_id - 1, BASELINE_LABEL, item.xyxy, round(item.score, 4), zone.id))
        forget = max(60.0, 2 * self.params.grace_s)  # bounded: tracks unseen this long are gone
        self._tracks = {tid: t for tid, t in self._tracks.items() if now_s - t[1] <= forget}
        return out
