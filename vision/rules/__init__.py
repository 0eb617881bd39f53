"""Rules: tracked objects (and the frame) over stream time in, rule outcomes out.

* `base`: the stay machinery every rule shares (`step_dwell`, pure over immutable state; `observe`;
  `StayRule`) and `RuleEvaluator`, the shape of every rule kind's evaluator;
* one module per rule kind: `parking` (illegal_parking, non_motor_parking), `occupancy`
  (parking_space_occupied), `litter`, `debris` (floating_debris), `waterlogging`; the model-free
  baselines they use: `background` (litter, occupancy), `surface` (debris), `water` (dry reference);
* `schedule`: schedules, wall time, cooldown and re-arm (pure timing decisions);
* `resume`: a checkpointed dwell state carried onto a restarted camera's stream clock (pure);
* `registry`: rule type -> evaluator class, and `build_rules`, the entry point.

Every evaluator's `evaluate(objects, now_s, width, height, image)` returns `StayUpdate`s (a stay
started, triggered or ended); `finish(now_s)` ends everything; `needs` are its detector labels.
"""

from vision.rules.base import (
    DwellParams,
    DwellState,
    Observation,
    RuleEvaluator,
    Stay,
    StayRule,
    StayUpdate,
    observe,
    step_dwell,
    zones_of,
)
from vision.rules.registry import EVALUATORS, build_rule, build_rules

__all__ = [
    "EVALUATORS",
    "DwellParams",
    "DwellState",
    "Observation",
    "RuleEvaluator",
    "Stay",
    "StayRule",
    "StayUpdate",
    "build_rule",
    "build_rules",
    "observe",
    "step_dwell",
    "zones_of",
]
