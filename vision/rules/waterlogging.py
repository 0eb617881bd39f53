"""The `waterlogging` rule: the wet share of a road zone, alerting while it stays high.

Per zone, a pure level machine (`step_level`) over the measured fraction: above `threshold` for
`persist_s` raises (once, subject to cooldown and re-arm); below `clear_threshold` for `clear_s`
clears the alert. Its outputs are `StayUpdate`s like the dwell rules' (label `water`, box = the
zone's bounding box, score = the fraction): `started` when the fraction first rises above the
threshold, `triggered` at the alert, `ended` when it clears (the pipeline turns this into an
`EventEnd` with the alert's duration). The rule keeps the fraction over time (`history`).

The fraction comes from a detector's `water` boxes (source `detector`), the model-free dry
reference baseline of `vision.water` (source `baseline`), or the larger of the two (`both`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import cv2
import numpy as np

from citywatch.config import WaterloggingRuleConfig, ZoneConfig
from vision.labels import MOVERS, expand_labels
from vision.rules.base import Stay, StayUpdate, zones_of
from vision.rules.schedule import Gate, cleared, fired, may_fire, recurred
from vision.rules.water import DryReference, box_fraction, cell_stats, water_fraction
from vision.track import TrackedObject


@dataclass(frozen=True, slots=True)
class LevelParams:
    threshold: float
    clear_threshold: float
    persist_s: float
    clear_s: float
    cooldown_s: float = 0.0
    rearm_s: float = 0.0


@dataclass(frozen=True, slots=True)
class LevelState:
    """One zone's alert state."""

    above_since_s: float | None = None
    below_since_s: float | None = None
    raised_s: float | None = None
    peak: float = 0.0
    gate: Gate = field(default_factory=Gate)


@dataclass(frozen=True, slots=True)
class LevelUpdate:
    kind: Literal["started", "triggered", "ended"]
    since_s: float
    at_s: float
    fraction: float
    peak: float


def step_level(
    state: LevelState, fraction: float, now_s: float, params: LevelParams
) -> tuple[LevelState, list[LevelUpdate]]:
    """Advance one zone's level alert by one measurement (see the module docstring)."""
    updates: list[LevelUpdate] = []
    if state.raised_s is None:
        if fraction >= params.threshold:
            since = state.above_since_s
            if since is None:
                since = now_s
                updates.append(LevelUpdate("started", since, now_s, fraction, fraction))
            peak = max(state.peak, fraction) if state.above_since_s is not None else fraction
            state = replace(state, above_since_s=since, peak=peak, gate=recurred(state.gate, now_s, params.rearm_s))
            allowed = may_fire(state.gate, now_s, params.cooldown_s, params.rearm_s)
            if now_s - since >= params.persist_s and allowed:
                state = replace(state, raised_s=now_s, below_since_s=None, gate=fired(state.gate, now_s))
                updates.append(LevelUpdate("triggered", since, now_s, fraction, state.peak))
        else:
            if state.above_since_s is not None:  # a run that never alerted: close it quietly
                updates.append(LevelUpdate("ended", state.above_since_s, now_s, fraction, state.peak))
            state = replace(state, above_since_s=None, peak=0.0, gate=cleared(state.gate, now_s))
        return state, updates
    state = replace(state, peak=max(state.peak, fraction))
    if fraction < params.clear_threshold:
        below = state.below_since_s if state.below_since_s is not None else now_s
        if now_s - below >= params.clear_s:
            updates.append(LevelUpdate("ended", state.above_since_s or below, now_s, fraction, state.peak))
            return LevelState(gate=cleared(state.gate, now_s)), updates
        return replace(state, below_since_s=below), updates
    return replace(state, below_since_s=None), updates


class WaterloggingRule:
    """Per-camera state of one waterlogging rule."""

    type = "waterlogging"

    def __init__(self, rule: WaterloggingRuleConfig, zones: Sequence[ZoneConfig], history: int = 3600):
        self.config = rule
        self.id = rule.id
        self.zones = zones_of(rule, zones)
        self.labels = expand_labels(rule.labels)
        self.use_detector = rule.source in ("detector", "both")
        self.use_baseline = rule.source in ("baseline", "both")
        reference = cv2.imread(rule.reference_image) if rule.reference_image else None
        self.reference = DryReference(rule.reference_s, reference) if self.use_baseline else None
        own = self.labels if self.use_detector else frozenset()
        self.needs = own | (MOVERS if self.use_baseline else frozenset())
        self.params = LevelParams(
            threshold=rule.threshold,
            clear_threshold=rule.threshold * 0.7 if rule.clear_threshold is None else rule.clear_threshold,
            persist_s=rule.persist_s,
            clear_s=rule.clear_s,
            cooldown_s=rule.cooldown_s,
            rearm_s=rule.rearm_s,
        )
        self.states: dict[str, LevelState] = {zone.id: LevelState() for zone in self.zones}
        #: (stream_s, zone_id, fraction) of every measurement, newest last.
        self.history: deque[tuple[float, str, float]] = deque(maxlen=history)
        self._stay_ids: dict[str, int] = {}
        self._next_id = 1
        self._ref_stats: tuple[np.ndarray, np.ndarray] | None = None

    grace_s = 0.0

    @property
    def middle_after_s(self) -> float:
        return self.params.persist_s / 2

    def live_stays(self) -> tuple[Stay, ...]:
        return ()

    def tracked_stays(self) -> tuple[Stay, ...]:
        return ()

    def next_due_s(self) -> float | None:
        """With the detector as a source, the end of the persistence of a zone above its threshold
        (the raise a fresh detection must confirm); the baseline measures every frame itself."""
        if not self.use_detector:
            return None
        due = [
            state.above_since_s + self.params.persist_s
            for state in self.states.values()
            if state.raised_s is None and state.above_since_s is not None
        ]
        return min(due, default=None)

    def measure(
        self, objects: Sequence[TrackedObject], width: int, height: int, image: np.ndarray | None
    ) -> dict[str, float] | None:
        """The wet fraction per zone, or None while the dry reference is still being learned."""
        fractions: dict[str, float] = {}
        water_boxes = [o.xyxy for o in objects if o.label in self.labels]
        masked = [o.xyxy for o in objects if o.label in MOVERS]
        if self.reference is not None and self.reference.image is not None and self._ref_stats is None:
            self._ref_stats = cell_stats(self.reference.image, self.config.cell_px)
        for zone in self.zones:
            value = box_fraction(water_boxes, zone, width, height) if self.use_detector else 0.0
            if self.reference is not None and self.reference.image is not None and image is not None:
                assert self._ref_stats is not None
                wet = water_fraction(image, self._ref_stats, zone, self.config.cell_px, masked)
                value = max(value, wet)
            fractions[zone.id] = value
        return fractions

    def evaluate(
        self, objects: Sequence[TrackedObject], now_s: float, width: int, height: int, image: np.ndarray | None = None
    ) -> list[StayUpdate]:
        if self.reference is not None and not self.reference.ready:
            learned = image is not None and self.reference.learn(image, now_s)
            if not learned and not self.use_detector:
                return []
        fractions = self.measure(objects, width, height, image)
        updates: list[StayUpdate] = []
        for zone in self.zones:
            fraction = fractions[zone.id] if fractions else 0.0
            self.history.append((now_s, zone.id, fraction))
            state, level_updates = step_level(self.states[zone.id], fraction, now_s, self.params)
            self.states[zone.id] = state
            for update in level_updates:
                updates.append(StayUpdate(update.kind, self._stay(zone.id, update, width, height), now_s))
        return updates

    def _stay(self, zone_id: str, update: LevelUpdate, width: int, height: int) -> Stay:
        if update.kind == "started" or zone_id not in self._stay_ids:
            self._stay_ids[zone_id] = self._next_id
            self._next_id += 1
        zone = next(z for z in self.zones if z.id == zone_id)
        pixels = zone.pixels(width, height)
        box = (
            float(pixels[:, 0].min()),
            float(pixels[:, 1].min()),
            float(pixels[:, 0].max()),
            float(pixels[:, 1].max()),
        )
        triggered = update.at_s if update.kind == "triggered" else None
        score = update.peak if update.kind == "ended" else update.fraction
        return Stay(
            self._stay_ids[zone_id], -1, zone_id, "water", update.since_s, update.at_s, box, round(score, 4), triggered
        )

    def finish(self, now_s: float) -> list[StayUpdate]:
        updates = []
        for zone_id, state in self.states.items():
            if state.above_since_s is not None and zone_id in self._stay_ids:
                stay = Stay(
                    self._stay_ids[zone_id],
                    -1,
                    zone_id,
                    "water",
                    state.above_since_s,
                    now_s,
                    (0.0, 0.0, 0.0, 0.0),
                    state.peak,
                    state.raised_s,
                )
                updates.append(StayUpdate("ended", stay, now_s))
            self.states[zone_id] = LevelState(gate=state.gate)
        return updates
