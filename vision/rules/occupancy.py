"""The `parking_space_occupied` rule (霸占停车资源): a cone, ground lock, chair or box holding a
parking bay, one event per bay, ended when the bay has been free of it for `grace_s`.

What occupies a bay comes from a trained detector's `occupier` labels (source `detector`), from the
model-free `DualBackground` baseline of `vision.rules.background` (source `baseline`: a *static*
change against the learned empty bay, vehicles and people masked out, as `litter` uses it; an
object counts once it has stood still for about a second, `fast_tau_s`), or both.
`bay_occupants` (pure) folds everything seen in a bay into one observation per bay, with an id
fixed per bay, so that the stay machinery of `vision.rules.base.step_dwell` times the *bay*: two
cones, a cone moved within the bay, or a detector's track switch are one occupation. A bay a
vehicle stands in (its bottom centre inside) is in use, not held: it yields nothing. The empty-bay
background never learns under a live occupation, so an object left for hours does not fade in.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from citywatch.config import ParkingSpaceOccupiedRuleConfig, ZoneConfig
from vision.labels import MOVERS, expand_labels
from vision.rules.background import Blob, DualBackground, baseline_of
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
from vision.track import TrackedObject
from vision.zones import Zone, anchor_point, normalise

#: The label of an occupation only the baseline saw (no detector named the object).
BASELINE_LABEL = "obstacle"
#: Labels whose presence in a bay means the bay is in use (a person beside a cone does not free it).
VEHICLES = MOVERS - {"person"}


def bay_id(index: int) -> int:
    """The fixed (negative: not a detector track) observation id of the `index`-th bay of a rule."""
    return -(index + 1)


def union_box(boxes: Sequence[Box]) -> Box:
    """The smallest box holding every box."""
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def bay_occupants(found: Sequence[Observation], bays: Sequence[str], in_use: frozenset[str]) -> list[Observation]:
    """One observation per bay holding something (`found`: detector and baseline observations,
    each with its bay as `zone_id`), skipping the bays in `in_use` (a vehicle stands there).

    Its id is the bay's (`bay_id`), its box the union of what was seen, its label that of the
    best-scoring detector observation (else the baseline's `obstacle`), its score the best score.
    """
    out: list[Observation] = []
    for index, bay in enumerate(bays):
        here = [o for o in found if o.zone_id == bay]
        if not here or bay in in_use:
            continue
        named = [o for o in here if o.track_id >= 0]
        best = max(named or here, key=lambda o: o.score)
        score = max(o.score for o in here)
        out.append(Observation(bay_id(index), best.label, union_box([o.xyxy for o in here]), score, bay))
    return out


def zone_of(box: Box, zones: Sequence[Zone], anchor: str, width: int, height: int) -> Zone | None:
    """The first zone holding the box's anchor point, or None."""
    point = normalise(anchor_point(box, anchor), width, height)  # type: ignore[arg-type]
    return next((z for z in zones if z.contains(point)), None)


def freeze_under(model: DualBackground, before: np.ndarray, boxes: Sequence[Box], image_width: int) -> None:
    """Undo what `model`'s slow (empty-scene) background learned inside `boxes` (pixels of the
    original image) on its last update: `before` is a copy of it taken before that update."""
    if model.slow is None or model.slow.shape != before.shape:
        return
    scale = model.slow.shape[1] / image_width
    for x1, y1, x2, y2 in boxes:
        c1, r1 = max(0, int(x1 * scale)), max(0, int(y1 * scale))
        c2, r2 = int(np.ceil(x2 * scale)), int(np.ceil(y2 * scale))
        model.slow[r1:r2, c1:c2] = before[r1:r2, c1:c2]


class OccupancyRule(StayRule):
    """Per-camera state of one `parking_space_occupied` rule (config:
    `citywatch.config.rules.ParkingSpaceOccupiedRuleConfig`); `evaluate` per analysed frame.

    Example:
        >>> rule = OccupancyRule(config, camera.zones)  # doctest: +SKIP
        >>> updates = rule.evaluate(objects, frame.stream_s, 768, 576, frame.image)  # doctest: +SKIP
    """

    type = "parking_space_occupied"

    def __init__(self, rule: ParkingSpaceOccupiedRuleConfig, zones: Sequence[ZoneConfig]):
        self.config = rule
        self.id: str = rule.id
        self.zones = zones_of(rule, zones)
        self.labels = expand_labels(rule.labels)
        self.use_detector = rule.source in ("detector", "both")
        self.baseline = baseline_of(rule)
        #: Detector labels: the occupiers (detector source) and the movers, masked and marking a bay in use.
        self.needs = (self.labels if self.use_detector else frozenset()) | MOVERS
        self.params = DwellParams(
            min_dwell_s=rule.min_dwell_s,
            grace_s=rule.grace_s,
            reassociate_iou=0.3,
            cooldown_s=rule.cooldown_s,
            rearm_s=rule.rearm_s,
        )
        self.state = DwellState()

    def tracked_stays(self) -> tuple[Stay, ...]:
        """With the detector as a source, every live occupation (a fresh detection confirms or ends
        it); the baseline alone measures every analysed frame itself."""
        return self.state.stays if self.use_detector else ()

    def evaluate(
        self, objects: Sequence[TrackedObject], now_s: float, width: int, height: int, image: np.ndarray | None = None
    ) -> list[StayUpdate]:
        found: list[Observation] = []
        if self.use_detector:
            found = observe(objects, self.zones, self.labels, self.config.anchor, width, height)
        movers = [obj for obj in objects if obj.label in MOVERS]
        parked = (
            zone_of(obj.xyxy, self.zones, "bottom_center", width, height) for obj in movers if obj.label in VEHICLES
        )
        in_use = frozenset(zone.id for zone in parked if zone is not None)
        if self.baseline is not None and image is not None:
            found += self._baseline(image, now_s, [obj.xyxy for obj in movers], width, height)
        bays = [zone.id for zone in self.zones]
        self.state, updates = step_dwell(self.state, bay_occupants(found, bays, in_use), now_s, self.params)
        return updates

    def _baseline(
        self, image: np.ndarray, now_s: float, exclude: list[Box], width: int, height: int
    ) -> list[Observation]:
        """The baseline's blobs in the bays, as observations; the empty-bay background is kept
        from learning under the live occupations."""
        assert self.baseline is not None
        before = self.baseline.slow.copy() if self.baseline.slow is not None else None
        blobs = self.baseline.update(image, now_s, exclude)
        if before is not None:
            freeze_under(self.baseline, before, [stay.xyxy for stay in self.state.stays], width)
        out = []
        for blob in blobs:
            zone = zone_of(blob.xyxy, self.zones, self.config.anchor, width, height)
            if zone is None or not blob.static:
                continue  # only what stopped counts: a passing shadow neither starts nor keeps a stay
            out.append(Observation(-1, BASELINE_LABEL, blob.xyxy, _score(blob), zone.id))
        return out


def _score(blob: Blob) -> float:
    return round(min(1.0, blob.contrast / 255 * 2), 4)
