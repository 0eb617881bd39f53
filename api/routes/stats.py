"""Statistics of the ledger: cases by type, district and status per day; overdue; on-time closure."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query
from sqlalchemy import ColumnElement, String, cast, func, literal, select

from api import workflow
from api.auth_responses import AUTH_RESPONSES
from api.deps import Context, DbSession, require_role
from api.models import Case
from api.schemas import DayCount, OnTime, StatsOut

router = APIRouter(prefix="/api/stats", tags=["stats"], dependencies=[Depends(require_role("viewer"))])


def _day(dialect: str, timezone: str) -> ColumnElement[str]:
    """The local calendar day (YYYY-MM-DD, city time zone) a case was created on, in SQL."""
    if dialect == "postgresql":
        return func.to_char(func.timezone(timezone, Case.created_at), "YYYY-MM-DD")
    offset = datetime.now(ZoneInfo(timezone)).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    return cast(func.date(Case.created_at, literal(f"{minutes:+d} minutes")), String)


@router.get("", response_model=StatsOut, summary="Case statistics", responses=AUTH_RESPONSES)
def get_stats(
    session: DbSession,
    context: Context,
    since: Annotated[datetime | None, Query(description="Cases created at or after (ISO 8601).")] = None,
    until: Annotated[datetime | None, Query(description="Cases created before (ISO 8601).")] = None,
    type: Annotated[str | None, Query(max_length=40, description="Only this type.")] = None,
    district: Annotated[str | None, Query(max_length=100, description="Only this district.")] = None,
) -> StatsOut:
    """Counts by day (city time zone), type, district and status; overdue cases; on-time closure
    rate = closed cases whose disposal (handled_at) was at or before the deadline / closed cases
    with a deadline."""
    since = since.replace(tzinfo=since.tzinfo or UTC) if since else None
    until = until.replace(tzinfo=until.tzinfo or UTC) if until else None
    conditions = []
    if since:
        conditions.append(Case.created_at >= since)
    if until:
        conditions.append(Case.created_at < until)
    if type:
        conditions.append(Case.type == type)
    if district:
        conditions.append(Case.district == district)
    day = _day(session.get_bind().dialect.name, context.config.timezone).label("day")
    rows = session.execute(
        select(day, Case.type, Case.district, Case.status, func.count(Case.id))
        .where(*conditions)
        .group_by(day, Case.type, Case.district, Case.status)
        .order_by(day, Case.type, Case.district, Case.status)
    ).all()
    by_day = [DayCount(day=str(d), type=t, district=dist, status=s, count=n) for d, t, dist, s, n in rows]
    by_type: dict[str, int] = {}
    by_district: dict[str, int] = {}
    by_status: dict[str, int] = {}
    for item in by_day:
        by_type[item.type] = by_type.get(item.type, 0) + item.count
        by_district[item.district] = by_district.get(item.district, 0) + item.count
        by_status[item.status] = by_status.get(item.status, 0) + item.count
    now = datetime.now(UTC)
    overdue = session.scalar(
        select(func.count(Case.id)).where(*conditions, Case.status.in_(workflow.DEADLINE_STATUSES), Case.deadline < now)
    )
    closed, on_time = session.execute(
        select(func.count(Case.id), func.count(Case.id).filter(Case.handled_at <= Case.deadline)).where(
            *conditions, Case.status == "closed", Case.deadline.is_not(None)
        )
    ).one()
    return StatsOut(
        since=since,
        until=until,
        total=sum(by_status.values()),
        by_type=by_type,
        by_district=by_district,
        by_status=by_status,
        by_day=by_day,
        overdue=overdue or 0,
        on_time=OnTime(closed=closed, on_time=on_time, rate=round(on_time / closed, 4) if closed else None),
    )
