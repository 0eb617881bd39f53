"""The parking campaign report (专项整治报表): for a date range and district, the counts a bureau
reports, computed from the ledger: enforcement steps by kind (moved on, cards, phone notices,
notices, waivers granted), vehicles towed by kind, parking cases opened, plates read, repeat
offenders (plates with two or more pending or confirmed events in the range) and how long cases
waited for their first enforcement step, and non-motor parking alerts by the vehicle kind their
label says (`vision.labels.vehicle_kind`). `report_rows` flattens it for CSV and Excel; the totals
of every format are the same numbers.
"""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citywatch.domain.enforcement import PARKING_TYPES, STEPS, VEHICLE_KINDS
from citywatch.domain.tables import Case, CaseAction, Event
from vision.labels import vehicle_kind

#: The report's rows, in the order the bureau's forms list them: (key, label).
ROWS: tuple[tuple[str, str], ...] = (
    ("cases", "违停案件数"),
    ("plates_read", "识别车牌数"),
    ("moved_on", "劝离车辆数"),
    ("cards", "张贴提醒卡数"),
    ("phone_notices", "电话通知车主数"),
    ("notices", "开具违停告知单数"),
    ("waivers", "首违免罚数"),
    *((f"towed_{kind}", f"拖移车辆数（{label}）") for kind, label in (
        ("car", "机动车"), ("two_wheel", "两轮电动车"), ("three_wheel", "三轮电动车"), ("four_wheel_e", "四轮电动车"),
    )),
    ("towed", "拖移车辆合计"),
    *((f"non_motor_{kind}", f"非机动车乱停放告警（{label}）") for kind, label in (
        ("two_wheel", "两轮电动车"), ("three_wheel", "三轮电动车"), ("four_wheel_e", "四轮电动车"),
    )),
    ("repeat_offenders", "多次违停车辆数"),
    ("owner_lookups", "查询车主次数"),
)  # fmt: skip
_STEP_KEYS = {
    "move_on": "moved_on",
    "card": "cards",
    "phone": "phone_notices",
    "notice": "notices",
    "waiver": "waivers",
}


def campaign_report(session: Session, *, start: datetime, end: datetime, district: str | None = None) -> dict[str, Any]:
    """The report for [start, end) (of the actions' and events' times), one district or all."""

    def in_district(query: Any) -> Any:
        return query.where(Case.district == district) if district else query

    actions = session.execute(
        in_district(
            select(CaseAction.action, CaseAction.data, CaseAction.at, Case.id, Case.created_at)
            .join(Case, CaseAction.case_id == Case.id)
            .where(CaseAction.at >= start, CaseAction.at < end, CaseAction.action.in_(("enforcement", "owner_lookup")))
        )
    ).all()
    counts: Counter[str] = Counter()
    first_step: dict[int, float] = {}  # case id -> minutes from its opening to its first step
    for action, data, at, case_id, created in actions:
        if action == "owner_lookup":
            counts["owner_lookups"] += 1
            continue
        step = (data or {}).get("step")
        if step == "tow":
            kind = (data or {}).get("vehicle_kind")
            counts[f"towed_{kind if kind in VEHICLE_KINDS else 'car'}"] += 1
            counts["towed"] += 1
        elif step in _STEP_KEYS:
            counts[_STEP_KEYS[step]] += 1
        if step in STEPS:
            minutes = (at - created).total_seconds() / 60
            first_step[case_id] = min(first_step.get(case_id, minutes), minutes)
    counts["cases"] = int(
        session.scalar(
            in_district(
                select(func.count(Case.id)).where(
                    Case.type.in_(PARKING_TYPES), Case.created_at >= start, Case.created_at < end
                )
            )
        )
        or 0
    )
    events = in_district(
        select(Event.plate_text, func.count(Event.id))
        .join(Case, Event.case_id == Case.id)
        .where(Event.occurred_at >= start, Event.occurred_at < end, Event.plate_text.is_not(None))
        .where(Event.review_status != "rejected")
        .group_by(Event.plate_text)
    )
    non_motor = in_district(
        select(Event.label, func.count(Event.id))
        .outerjoin(Case, Event.case_id == Case.id)
        .where(Event.type == "non_motor_parking", Event.occurred_at >= start, Event.occurred_at < end)
        .where(Event.review_status != "rejected")
        .group_by(Event.label)
    )
    for label, n in session.execute(non_motor).all():
        counts[f"non_motor_{vehicle_kind(label)}"] += int(n)
    per_plate = session.execute(events).all()
    counts["plates_read"] = len(per_plate)
    counts["repeat_offenders"] = sum(1 for _, n in per_plate if n >= 2)
    waits = list(first_step.values())
    return {
        "start": start,
        "end": end,
        "district": district,
        "counts": {key: counts.get(key, 0) for key, _ in ROWS},
        "response_min": {
            "cases": len(waits),
            "median": round(statistics.median(waits), 1) if waits else None,
            "max": round(max(waits), 1) if waits else None,
        },
    }


def report_rows(report: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(key, label, count) per row of the report, in the forms' order."""
    return [(key, label, int(report["counts"][key])) for key, label in ROWS]
