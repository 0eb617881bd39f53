"""Which evaluator runs each rule kind: the one table to extend when a rule type is added.

`build_rules(camera.rules, camera.zones)` makes one evaluator per configured rule; the config's
`type:` picks the class from `EVALUATORS` (see CONTRIBUTING.md, "Adding a rule type").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from citywatch.config import RULE_TYPES, RuleConfig, ZoneConfig
from vision.rules.base import RuleEvaluator
from vision.rules.debris import DebrisRule
from vision.rules.litter import LitterRule
from vision.rules.occupancy import OccupancyRule
from vision.rules.parking import DwellRule
from vision.rules.waterlogging import WaterloggingRule

#: Rule type (`type:` in the config) -> the class of its per-camera evaluator.
EVALUATORS: dict[str, Callable[[Any, Sequence[ZoneConfig]], RuleEvaluator]] = {
    "illegal_parking": DwellRule,
    "non_motor_parking": DwellRule,
    "litter": LitterRule,
    "waterlogging": WaterloggingRule,
    "parking_space_occupied": OccupancyRule,
    "floating_debris": DebrisRule,
}
assert set(EVALUATORS) == set(RULE_TYPES), "every configurable rule type needs an evaluator"


def build_rule(rule: RuleConfig, zones: Sequence[ZoneConfig]) -> RuleEvaluator:
    """The evaluator of one configured rule."""
    return EVALUATORS[rule.type](rule, zones)


def build_rules(rules: Sequence[RuleConfig], zones: Sequence[ZoneConfig]) -> list[RuleEvaluator]:
    """One evaluator per configured rule of a camera."""
    return [build_rule(rule, zones) for rule in rules]
