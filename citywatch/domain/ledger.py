"""The case ledger: events become cases, cases move through the workflow, every step is recorded.

Used by the event sink (pipeline side) and the HTTP routes alike, always inside the caller's
session: nothing here commits. Changes worth publishing (`("event"|"case", payload)`) are queued
on the session (`outbox(session)`) and handed to `Database` subscribers only after a commit.
`attach_event` is where a stored event joins the open case of its place or opens one; the row
itself is written by `citywatch.domain.events.store_event`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from citywatch.config import CasePolicyConfig, CitywatchConfig
from citywatch.domain import wording, workflow
from citywatch.domain.payloads import action_payload, case_payload
from citywatch.domain.tables import Camera, Case, CaseAction, Event, Zone

SYSTEM = "system"
CAMERA_VERIFIER = "system:camera"


class TransitionError(Exception):
    """A refused transition: `status` is 409 (not allowed from here) or 422 (a field is missing)."""

    def __init__(self, status: int, message: str, allowed: tuple[str, ...], field: str | None = None):
        super().__init__(message)
        self.status, self.message, self.allowed, self.field = status, message, allowed, field


@dataclass
class CasePolicy:
    """How a rule's events become cases (from the rule's `case:` config)."""

    auto_register: bool = False
    priority: str = "normal"
    deadline_h: float = 24.0

    @classmethod
    def of(cls, config: CasePolicyConfig | None) -> CasePolicy:
        """The policy a rule's `case:` section describes (the defaults without one)."""
        if config is None:
            return cls()
        return cls(config.auto_register, config.priority, config.deadline_h)


def policy_for(config: CitywatchConfig, camera_id: str, rule_id: str) -> CasePolicy:
    """The case policy of a camera's rule (the defaults when the camera or rule is gone)."""
    try:
        camera = config.camera(camera_id)
    except KeyError:
        return CasePolicy()
    rule = next((r for r in camera.rules if r.id == rule_id), None)
    return CasePolicy.of(rule.case if rule is not None else None)


@dataclass
class TransitionRequest:
    """What a caller asks for: the target status and the step's details."""

    to: str
    note: str | None = None
    team: str | None = None
    deadline: datetime | None = None
    attachments: list[str] = field(default_factory=list)


def outbox(session: Session) -> list[tuple[str, dict[str, Any]]]:
    """Messages to publish once this session commits."""
    return session.info.setdefault("citywatch_outbox", [])


def _record(
    session: Session,
    case: Case,
    actor: str,
    from_status: str | None,
    action: str = "transition",
    note: str | None = None,
    attachments: list[str] | None = None,
    data: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> CaseAction:
    entry = CaseAction(
        case_id=case.id,
        actor=actor,
        at=now or datetime.now(UTC),
        action=action,
        from_status=from_status,
        to_status=case.status,
        note=note,
        attachments=list(attachments or []),
        data=data or {},
    )
    session.add(entry)
    session.flush()
    outbox(session).append(("case", {"case": case_payload(case), "action": action_payload(entry)}))
    return entry


def append_action(
    session: Session,
    case: Case,
    actor: str,
    action: str,
    *,
    note: str | None = None,
    data: dict[str, Any] | None = None,
) -> CaseAction:
    """An audited step on `case` that does not change its status (an enforcement step, a lookup)."""
    return _record(session, case, actor, case.status, action=action, note=note, data=data)


def _apply_status(case: Case, to: str, now: datetime) -> None:
    case.status, case.updated_at = to, now
    stamp = {
        "registered": "registered_at",
        "dispatched": "dispatched_at",
        "handled": "handled_at",
        "verified": "verified_at",
        "closed": "closed_at",
    }.get(to)
    if stamp:
        setattr(case, stamp, now)
    if to == "dispatched":  # sent back or reopened: later steps must be done again
        case.handled_at = case.verified_at = case.closed_at = None


def transition(
    session: Session, case: Case, request: TransitionRequest, actor: str, now: datetime | None = None
) -> CaseAction:
    """Move `case` to `request.to`, recording who, when, why; raises `TransitionError` when refused."""
    now = now or datetime.now(UTC)
    current = case.status
    options = workflow.allowed(current)
    if request.to not in workflow.STATUSES or request.to not in options:
        problems = workflow.check_transition(current, request.to, {})
        raise TransitionError(409, problems[0], options)
    fields = {"note": request.note, "team": request.team}
    for name in workflow.REQUIRED.get(request.to, ()):
        if not fields.get(name):
            raise TransitionError(422, f"{request.to} needs {name!r}", options, field=name)
    if current == "closed" and case.source == "camera" and case.camera_id:
        other = open_case_for(session, case.camera_id, case.zone_id, case.type)
        if other is not None and other.id != case.id:  # one open camera case per place
            raise TransitionError(409, f"case {other.id} is already open for this camera, zone and type", options)
    data: dict[str, Any] = {}
    if request.to == "dispatched":
        case.team = request.team
        # a hotline ticket's time limit runs from its intake (12345 counts it from the call)
        intake = case.deadline if case.source == "hotline" and current == "registered" else None
        deadline = request.deadline or intake or now + timedelta(hours=case.deadline_h or 24.0)
        if deadline.tzinfo is None:
            deadline = deadline.replace(tzinfo=UTC)
        case.deadline = deadline
        data = {"team": case.team, "deadline": deadline.isoformat()}
        if current == "handled":
            case.handled_at = None
        if current != "registered":  # a new round: the last round's handling note stays in the audit trail only
            case.disposal_note = None
    elif request.to == "rejected":
        case.reject_reason = request.note
    elif request.to == "handled":
        case.disposal_note = request.note
    _apply_status(case, request.to, now)
    return _record(
        session, case, actor, current, note=request.note, attachments=request.attachments, data=data, now=now
    )


def _camera_location(session: Session, camera_id: str, zone_id: str | None) -> tuple[str, str, str]:
    camera = session.get(Camera, camera_id)
    zone = session.get(Zone, (camera_id, zone_id)) if zone_id else None
    name = (camera.name or camera.id) if camera else camera_id
    place = f"{name} / {(zone.name or zone.id) if zone else (zone_id or '-')}"
    return place, (camera.district if camera else ""), (camera.street if camera else "")


def open_case_for(session: Session, camera_id: str, zone_id: str | None, type_: str) -> Case | None:
    """The open case (newest) for this camera, zone and type, if there is one; locked for the
    transaction on PostgreSQL (the sink and an operator may change it at the same time)."""
    query = select(Case).where(Case.camera_id == camera_id, Case.type == type_, Case.status.in_(workflow.OPEN_STATUSES))
    query = query.where(Case.zone_id == zone_id) if zone_id is not None else query.where(Case.zone_id.is_(None))
    return session.scalars(query.order_by(Case.id.desc()).limit(1).with_for_update()).first()


def attach_event(
    session: Session, event: Event, policy: CasePolicy, actor: str = SYSTEM, register: bool | None = None
) -> tuple[Case, bool]:
    """Attach `event` to the open case of its camera, zone and type, or open one; (case, created).

    A new case starts `registered` (立案 by `actor`) when the policy auto-registers or `register`
    is true, else `new`, awaiting an operator's review. An event on a `handled` case means the
    problem is still there: verification fails and the case goes back to `dispatched`.
    """
    now = datetime.now(UTC)
    case = open_case_for(session, event.camera_id, event.zone_id, event.type)
    created = case is None
    if case is None:
        location, district, street = _camera_location(session, event.camera_id, event.zone_id)
        case = Case(
            type=event.type,
            status="new",
            priority=policy.priority,
            source="camera",
            camera_id=event.camera_id,
            zone_id=event.zone_id,
            rule_id=event.rule_id,
            location=location,
            district=district,
            street=street,
            description=wording.case_description(event.type, event.label, location),
            deadline_h=policy.deadline_h,
            event_count=0,
            created_at=now,
            updated_at=now,
        )
        session.add(case)
        session.flush()
        _record(
            session,
            case,
            actor,
            None,
            action="open",
            note=wording.opened_from_event(event.uid),
            data={"event_id": event.id},
            now=now,
        )
    case.event_count = (case.event_count or 0) + 1
    case.last_event_at = event.occurred_at
    case.updated_at = now
    event.case_id = case.id
    if not created:
        _record(
            session,
            case,
            actor,
            case.status,
            action="event",
            note=wording.event_attached(event.uid),
            data={"event_id": event.id},
            now=now,
        )
    if not created and case.status == "handled":  # 核查 failed: the camera still sees the problem
        note = wording.verification_failed(event.uid)
        request = TransitionRequest(to="dispatched", note=note, team=case.team, deadline=case.deadline)
        transition(session, case, request, CAMERA_VERIFIER, now)
    if case.status == "new" and (policy.auto_register if register is None else register):
        transition(session, case, TransitionRequest(to="registered", note="auto-registered"), actor, now)
    return case, created


def create_hotline_case(
    session: Session,
    actor: str,
    ticket: str,
    type_: str,
    description: str,
    location: str,
    district: str = "",
    street: str = "",
    camera_id: str | None = None,
    zone_id: str | None = None,
    priority: str = "normal",
    deadline_h: float = 24.0,
) -> Case:
    """Open a case from a 12345 hotline ticket; it starts `registered` (the ticket is the 立案)."""
    now = datetime.now(UTC)
    if camera_id and not (district and street):
        camera = session.get(Camera, camera_id)
        if camera is not None:
            district, street = district or camera.district, street or camera.street
    case = Case(
        type=type_,
        status="new",
        priority=priority,
        source="hotline",
        hotline_ticket=ticket,
        camera_id=camera_id,
        zone_id=zone_id,
        location=location,
        district=district,
        street=street,
        description=description,
        deadline_h=deadline_h,
        deadline=now + timedelta(hours=deadline_h),  # from intake, not from dispatch
        event_count=0,
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    session.flush()
    _record(session, case, actor, None, action="open", note=wording.hotline_ticket(ticket), now=now)
    transition(session, case, TransitionRequest(to="registered", note=wording.hotline_ticket(ticket)), actor, now)
    return case


def zone_clear(
    session: Session,
    camera_id: str,
    zone_id: str,
    type_: str,
    clear_since: datetime,
    actor: str = CAMERA_VERIFIER,
) -> list[Case]:
    """Auto-verification (核查) hook: the camera has seen `zone_id` clear of `type_` since `clear_since`.

    Every `handled` case of that camera, zone and type whose disposal was recorded at or before
    `clear_since` becomes `verified`, with `actor` on the record. Returns the verified cases.
    """
    if clear_since.tzinfo is None:
        clear_since = clear_since.replace(tzinfo=UTC)
    cases = session.scalars(
        select(Case)
        .where(Case.camera_id == camera_id, Case.zone_id == zone_id, Case.type == type_, Case.status == "handled")
        .with_for_update()
    ).all()
    verified = []
    for case in cases:
        if case.handled_at is not None and case.handled_at <= clear_since:
            zone = session.get(Zone, (camera_id, zone_id))
            note = wording.zone_seen_clear((zone.name or zone.id) if zone else zone_id, clear_since)
            transition(session, case, TransitionRequest(to="verified", note=note), actor)
            verified.append(case)
    return verified
