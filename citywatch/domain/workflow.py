"""The case workflow as data: which status may follow which, and what each step needs.

立案 → 派遣 → 处置 → 核查 → 结案: `new` → `registered` (or `rejected`: a false alarm, with a
reason) → `dispatched` (a team and a deadline) → `handled` (a disposal note, optional photos) →
`verified` (by an operator, or by the camera seeing the zone clear) → `closed`; a failed
verification sends the case back to `dispatched`, and so does reopening a closed case (with a
team; the reopening is on the audit trail like every step). Pure: no database, so it tests alone.

Example:
    >>> check_transition("new", "dispatched", {})
    ['new cannot go to dispatched; allowed: registered, rejected']
    >>> check_transition("registered", "dispatched", {"team": "第一中队"})
    []
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

STATUSES: tuple[str, ...] = ("new", "registered", "rejected", "dispatched", "handled", "verified", "closed")
#: Status → the statuses it may move to.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("registered", "rejected"),
    "registered": ("dispatched", "rejected"),
    "dispatched": ("handled",),
    "handled": ("verified", "dispatched"),
    "verified": ("closed",),
    "closed": ("dispatched",),  # reopened: the problem came back or the close was wrong
    "rejected": (),
}
#: Statuses in which a case is still being worked (events attach to it; it can be overdue).
OPEN_STATUSES: tuple[str, ...] = ("new", "registered", "dispatched", "handled", "verified")
#: Statuses that count against the deadline (overdue when the deadline passed in one of them).
DEADLINE_STATUSES: tuple[str, ...] = ("registered", "dispatched", "handled")
#: The fields each target status needs in the transition request.
REQUIRED: dict[str, tuple[str, ...]] = {
    "rejected": ("note",),
    "dispatched": ("team",),
    "handled": ("note",),
}
#: What each status is called at the bureau.
LABELS: dict[str, str] = {
    "new": "待审核",
    "registered": "立案",
    "rejected": "不予立案",
    "dispatched": "派遣",
    "handled": "处置",
    "verified": "核查",
    "closed": "结案",
}


def allowed(status: str) -> tuple[str, ...]:
    """The statuses a case in `status` may move to."""
    return TRANSITIONS.get(status, ())


def check_transition(current: str, target: str, fields: Mapping[str, Any]) -> list[str]:
    """Problems with moving a case from `current` to `target` given the request's fields; [] when fine."""
    if target not in STATUSES:
        return [f"unknown status {target!r}; statuses: {', '.join(STATUSES)}"]
    if target not in allowed(current):
        options = ", ".join(allowed(current)) or "none (final)"
        return [f"{current} cannot go to {target}; allowed: {options}"]
    return [f"{target} needs {name!r}" for name in REQUIRED.get(target, ()) if not fields.get(name)]


def is_overdue(status: str, deadline: datetime | None, now: datetime) -> bool:
    """True when the case is still being worked past its deadline."""
    return deadline is not None and status in DEADLINE_STATUSES and deadline < now
