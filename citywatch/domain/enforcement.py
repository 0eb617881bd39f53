"""The parking enforcement workflow on a case, by plate: assessment, audited steps, owner lookups.

`assess` tells an operator where a parking case stands: the vehicle's plate (the most confident
reading of its events), whether this is its first violation within `enforcement.lookback_days`
(other pending or confirmed events of the plate, in other cases, before this one), whether the
place is a strict road section (严管路段), when the notice went out and when the vehicle left, and
so whether the first-violation waiver (首违免罚) may be granted and what the next step is.
`record_step` appends one audited `enforcement` action (move on, card, phone, notice, waiver, tow:
`STEPS`); a waiver is refused unless `assess` allows it. `lookup_owner` gives the owner's full
phone number from the registry and writes the lookup (never the number) on the case's record.
Nothing here commits: the caller's session does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citywatch.config import EnforcementConfig
from citywatch.domain import ledger, workflow
from citywatch.domain.tables import Case, CaseAction, Event, Owner

#: Enforcement steps, in the usual order of escalation (labels as the bureau's reports name them).
STEPS: dict[str, str] = {
    "move_on": "劝离",
    "card": "张贴提醒卡",
    "phone": "电话通知车主",
    "notice": "开具违停告知单",
    "waiver": "首违免罚",
    "tow": "拖移",
}
#: Steps that tell the owner to move the vehicle: the grace time of the waiver counts from the first.
NOTICE_STEPS = ("card", "phone", "notice")
#: What was towed, for the campaign report's counts.
VEHICLE_KINDS = ("car", "two_wheel", "three_wheel", "four_wheel_e")
PARKING_TYPES = ("illegal_parking", "non_motor_parking")


class EnforcementError(Exception):
    """A step that cannot be taken; `status` is the HTTP status the API answers with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Assessment:
    """Where a parking case stands (see the module docstring)."""

    plate: str | None
    prior_violations: int
    first_violation: bool
    strict_section: bool
    notice_at: datetime | None
    left_at: datetime | None
    left_within_grace: bool
    exempt: str | None
    waived: bool
    waiver_eligible: bool
    steps: list[dict[str, Any]]
    next_step: str | None

    def payload(self) -> dict[str, Any]:
        """JSON-ready (timestamps as `datetime`s, written by the API's encoder)."""
        return dict(self.__dict__)


def mask_phone(phone: str) -> str:
    """A phone number as a viewer may see it: the first 3 and last 4 digits (138****5678)."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"


def case_plate(session: Session, case_id: int) -> str | None:
    """The plate of a case: the most confident reading among its events."""
    plates = session.scalars(select(Event.plate).where(Event.case_id == case_id, Event.plate_text.is_not(None))).all()
    best = max((p for p in plates if p), key=lambda p: p.get("confidence") or 0.0, default=None)
    return best["text"] if best else None


def _left_at(events: list[Event]) -> datetime | None:
    """When the vehicle of the case's latest stay left (wall time), once its stay has ended."""
    # a stay cut by the footage's end or an idle rule is not the vehicle leaving
    ended = [e for e in events if e.ended_s is not None and e.end_reason in (None, "left")]
    if not ended:
        return None
    last = max(ended, key=lambda e: e.occurred_at)
    return last.occurred_at + timedelta(seconds=max(0.0, (last.ended_s or 0.0) - last.triggered_s))


def assess(session: Session, case: Case, config: EnforcementConfig, now: datetime) -> Assessment:
    """The enforcement state of a parking case (the module docstring says what each part means)."""
    events = list(session.scalars(select(Event).where(Event.case_id == case.id)))
    plate = case_plate(session, case.id)
    first_at = min((e.occurred_at for e in events), default=case.created_at)
    prior = 0
    if plate is not None:
        prior = int(
            session.scalar(
                select(func.count(Event.id)).where(
                    Event.plate_text == plate,
                    Event.review_status != "rejected",
                    Event.occurred_at >= first_at - timedelta(days=config.lookback_days),
                    Event.occurred_at < first_at,
                    (Event.case_id != case.id) | Event.case_id.is_(None),
                )
            )
            or 0
        )
    actions = list(
        session.scalars(
            select(CaseAction)
            .where(CaseAction.case_id == case.id, CaseAction.action == "enforcement")
            .order_by(CaseAction.id)
        )
    )
    steps = [{"step": a.data.get("step"), "at": a.at, "actor": a.actor, **_extra(a.data)} for a in actions]
    notice_at = next((s["at"] for s in steps if s["step"] in NOTICE_STEPS), None)
    left_at = _left_at(events)
    grace = timedelta(minutes=config.grace_min)
    left_within_grace = notice_at is not None and left_at is not None and left_at <= notice_at + grace
    strict = f"{case.camera_id}/{case.zone_id}" in config.strict_zones
    exempt = exemption(plate, config)
    waived = any(s["step"] == "waiver" for s in steps)
    first = plate is not None and prior == 0
    eligible = config.waiver and first and not strict and left_within_grace and not waived and not exempt
    return Assessment(
        plate=plate,
        prior_violations=prior,
        first_violation=first,
        strict_section=strict,
        notice_at=notice_at,
        left_at=left_at,
        left_within_grace=left_within_grace,
        exempt=exempt,
        waived=waived,
        waiver_eligible=eligible,
        steps=steps,
        next_step=None if exempt else _next_step(eligible, waived, notice_at, left_at, steps, config, now),
    )


def exemption(plate: str | None, config: EnforcementConfig) -> str | None:
    """Why a plate is exempt from enforcement ("listed": in `exempt_plates`; "special": ending in
    one of `exempt_suffixes`), or None."""
    if plate is None:
        return None
    if plate in config.exempt_plates:
        return "listed"
    return "special" if any(plate.endswith(suffix) for suffix in config.exempt_suffixes) else None


#: Steps that penalise the vehicle, refused for an exempt one (a waiver is moot, a lookup harmless).
PENALTY_STEPS = frozenset({"card", "notice", "phone", "tow"})


def _extra(data: dict[str, Any]) -> dict[str, Any]:
    return {key: data[key] for key in ("vehicle_kind", "note") if data.get(key)}


def _next_step(
    eligible: bool,
    waived: bool,
    notice_at: datetime | None,
    left_at: datetime | None,
    steps: list[dict[str, Any]],
    config: EnforcementConfig,
    now: datetime,
) -> str | None:
    done = {s["step"] for s in steps}
    if waived or "tow" in done:
        return None
    if eligible:
        return "waiver"
    if notice_at is None:
        return "phone"
    if left_at is None and now >= notice_at + timedelta(minutes=config.tow_after_min):
        return "tow"
    return None if "notice" in done else "notice"


def record_step(
    session: Session,
    case: Case,
    step: str,
    actor: str,
    config: EnforcementConfig,
    now: datetime,
    *,
    note: str | None = None,
    vehicle_kind: str | None = None,
) -> CaseAction:
    """Append one audited enforcement step to an open parking case."""
    if case.type not in PARKING_TYPES:
        raise EnforcementError(409, f"case {case.id} is not a parking case ({case.type})")
    if case.status not in workflow.OPEN_STATUSES:
        raise EnforcementError(409, f"case {case.id} is {case.status}: no enforcement step can be added")
    if step not in STEPS:
        raise EnforcementError(422, f"unknown step {step!r}; one of {', '.join(STEPS)}")
    if step == "tow" and vehicle_kind not in VEHICLE_KINDS:
        raise EnforcementError(422, f"a tow needs vehicle_kind, one of {', '.join(VEHICLE_KINDS)}")
    state = assess(session, case, config, now)
    if state.exempt and step in PENALTY_STEPS:
        raise EnforcementError(
            409, f"vehicle {state.plate} is exempt from parking enforcement (豁免车辆: {state.exempt})"
        )
    if step == "waiver" and not state.waiver_eligible:
        why = _why_not(state, config)
        raise EnforcementError(409, f"the first-violation waiver cannot be granted: {why}")
    data: dict[str, Any] = {"step": step, "plate": state.plate}
    if vehicle_kind:
        data["vehicle_kind"] = vehicle_kind
    if note:
        data["note"] = note
    if step == "waiver":
        data["first_violation"] = True
    return ledger.append_action(
        session, case, actor, "enforcement", note=f"{STEPS[step]}{f': {note}' if note else ''}", data=data
    )


#: Who records a waiver the camera saw earned (the vehicle left in time after its notice).
CAMERA_ACTOR = "system:camera"


def waive_on_departure(session: Session, uid: str, config: EnforcementConfig) -> CaseAction | None:
    """The first-violation waiver, recorded by the camera when the vehicle of event `uid` has just
    left and its case is eligible (first violation, notice given, left within the grace, not a
    strict section, not exempt); None otherwise."""
    event = session.scalars(select(Event).where(Event.uid == uid)).first()
    case = session.get(Case, event.case_id) if event is not None and event.case_id else None
    if case is None or case.type not in PARKING_TYPES or case.status not in workflow.OPEN_STATUSES:
        return None
    session.flush()  # the stay's end, just written, is what the assessment reads
    if not assess(session, case, config, datetime.now(UTC)).waiver_eligible:
        return None
    note = f"车辆在告知后 {config.grace_min:g} 分钟内驶离"
    return record_step(session, case, "waiver", CAMERA_ACTOR, config, datetime.now(UTC), note=note)


def _why_not(state: Assessment, config: EnforcementConfig) -> str:
    if not config.waiver:
        return "the waiver is off in this city's configuration"
    if state.waived:
        return "it was granted already"
    if state.plate is None:
        return "the vehicle's plate is not known"
    if state.exempt:
        return "the vehicle is exempt from enforcement (豁免车辆)"
    if not state.first_violation:
        return f"the vehicle has {state.prior_violations} earlier violation(s) in {config.lookback_days:g} days"
    if state.strict_section:
        return "the place is a strict road section (严管路段)"
    if state.notice_at is None:
        return "no notice was given yet"
    return f"the vehicle did not leave within {config.grace_min:g} min of the notice"


def lookup_owner(session: Session, case: Case, actor: str) -> dict[str, Any] | None:
    """The case vehicle's owner with the full phone number (None when none is registered); the
    lookup is audited either way, with the plate and whether it was found, never the number."""
    plate = case_plate(session, case.id)
    if plate is None:
        raise EnforcementError(409, f"case {case.id} has no plate to look up")
    owner = session.get(Owner, plate)
    audit = {"plate": plate, "found": owner is not None and bool(owner.phone)}
    ledger.append_action(session, case, actor, "owner_lookup", note="查询车主联系方式", data=audit)
    if owner is None:
        return None
    return {"plate": plate, "name": owner.name, "phone": owner.phone}


def owner_view(owner: Owner) -> dict[str, Any]:
    """An owner as anyone but an audited lookup sees it: the phone masked."""
    return {"plate": owner.plate, "name": owner.name, "phone": mask_phone(owner.phone), "updated_at": owner.updated_at}
