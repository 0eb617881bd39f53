"""The `litter` rule: exposed garbage or floating debris staying in a zone, one event per object.

Two sources, either or both per rule: tracked detections of a trained detector's `litter` label,
and blobs of the model-free `DualBackground` baseline (new static objects against the clean
background, persons and vehicles masked out). Either way the timing is the dwell logic of
`vision.rules.base.step_dwell`: an object at one place for `persist_s` raises once; it ends after
`grace_s` unseen. Baseline blobs get a fresh id each frame and are tied to stays by overlap
(IoU >= 0.5); a stay is kept alive only by *static* blobs, so something moving never ages into an
event.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from citywatch.config import LitterRuleConfig, ZoneConfig
from vision.labels import CITYWATCH_LABELS, MOVERS, expand_labels
from vision.rules.background import baseline_of
from vision.rules.base import DwellParams, DwellState, Observation, StayRule, StayUpdate, observe, step_dwell, zones_of
from vision.track import TrackedObject
from vision.zones import anchor_point, box_iou, normalise


class LitterRule(StayRule):
    """Per-camera state of one litter rule."""

    type = "litter"

    def __init__(self, rule: LitterRuleConfig, zones: Sequence[ZoneConfig]):
        self.config = rule
        self.id = rule.id
        self.zones = zones_of(rule, zones)
        self.labels = expand_labels(rule.labels)
        use_detector = rule.source in ("detector", "both")
        self.baseline = baseline_of(rule)
        #: Detector labels this rule needs: its own (detector source) and those it masks (baseline).
        own = self.labels if use_detector else frozenset()
        self.needs = (own | (MOVERS if self.baseline else frozenset())) & (CITYWATCH_LABELS | self.labels)
        self.params = DwellParams(
            min_dwell_s=rule.persist_s,
            grace_s=rule.grace_s,
            reassociate_iou=0.5,
            cooldown_s=rule.cooldown_s,
            rearm_s=rule.rearm_s,
        )
        self.state = DwellState()
        self._next_blob_id = -1

    def evaluate(
        self, objects: Sequence[TrackedObject], now_s: float, width: int, height: int, image: np.ndarray | None = None
    ) -> list[StayUpdate]:
        observations: list[Observation] = []
        if self.config.source in ("detector", "both"):
            observations = observe(objects, self.zones, self.labels, self.config.anchor, width, height)
        if self.baseline is not None and image is not None:
            exclude = [obj.xyxy for obj in objects if obj.label in MOVERS]
            for blob in self.baseline.update(image, now_s, exclude):
                point = normalise(anchor_point(blob.xyxy, self.config.anchor), width, height)
                zone = next((z for z in self.zones if z.contains(point)), None)
                if zone is None or any(box_iou(o.xyxy, blob.xyxy) > 0.3 for o in observations):
                    continue
                iou = self.params.reassociate_iou
                on_stay = any(box_iou(s.xyxy, blob.xyxy) >= iou for s in self.state.stays)
                if not blob.static and on_stay:
                    continue  # a moving blob never keeps a stay alive
                observations.append(
                    Observation(self._next_blob_id, "litter", blob.xyxy, min(1.0, blob.contrast / 255 * 2), zone.id)
                )
                self._next_blob_id -= 1
        self.state, updates = step_dwell(self.state, observations, now_s, self.params)
        return updates
