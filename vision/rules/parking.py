"""The parking rules (`illegal_parking`, `non_motor_parking`): a vehicle of the rule's labels whose
anchor stays in a no-parking zone longer than the allowed dwell raises one event.

All timing is the stay machinery of `vision.rules.base.step_dwell`; this module only chooses what
counts as an observation (label and anchor point inside a zone).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from citywatch.config import DwellRuleConfig, ZoneConfig
from vision.labels import expand_labels
from vision.rules.base import DwellParams, DwellState, StayRule, StayUpdate, observe, step_dwell, zones_of
from vision.track import TrackedObject


class DwellRule(StayRule):
    """Per-camera state of one dwell rule (`illegal_parking`, `non_motor_parking`); `evaluate` per
    analysed frame."""

    def __init__(self, rule: DwellRuleConfig, zones: Sequence[ZoneConfig]):
        self.config = rule
        self.id = rule.id
        self.type = rule.type
        self.zones = zones_of(rule, zones)
        self.labels = expand_labels(rule.labels)
        #: Detector labels this rule needs on its camera.
        self.needs = self.labels
        self.params = DwellParams(
            min_dwell_s=rule.min_dwell_s, grace_s=rule.grace_s, cooldown_s=rule.cooldown_s, rearm_s=rule.rearm_s
        )
        self.state = DwellState()

    def evaluate(
        self, objects: Sequence[TrackedObject], now_s: float, width: int, height: int, image: np.ndarray | None = None
    ) -> list[StayUpdate]:
        observations = observe(objects, self.zones, self.labels, self.config.anchor, width, height)
        self.state, updates = step_dwell(self.state, observations, now_s, self.params)
        return updates
