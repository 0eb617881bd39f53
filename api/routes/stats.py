"""Statistics of the ledger: cases by type, district and status per day; overdue; on-time closure."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import orjson
from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import ColumnElement, String, cast, func, literal, select
from sqlalchemy.orm import Session

from api.auth_responses import AUTH_RESPONSES
from api.cache import BIG, app_cache
from api.deps import Context, require_role
from api.schemas import StatsOut
from citywatch.domain import workflow
from citywatch.domain.db import Database
from citywatch.domain.tables import Case

router = APIRouter(prefix="/api/stats", tags=["stats"], dependencies=[Depends(require_role("viewer"))])


def _day(dialect: str, timezone: str) -> ColumnElement[str]:
    """The local calendar day (YYYY-MM-DD, city time zone) a case was created on, in SQL."""
    if dialect == "postgresql":
        return func.to_char(func.timezone(timezone, Case.created_at), "YYYY-MM-DD")
    offset = datetime.now(ZoneInfo(timezone)).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    return cast(func.date(Case.created_at, literal(f"{minutes:+d} minutes")), String)


@router.get("", response_model=StatsOut, summary="Case statistics", responses=AUTH_RESPONSES)
async def get_stats(
    context: Context,
    since: Annotated[datetime | None, Query(description="Cases created at or after (ISO 8601).")] = None,
    until: Annotated[datetime | None, Query(description="Cases created before (ISO 8601).")] = None,
    type: Annotated[str | None, Query(max_length=40, description="Only this type.")] = None,
    district: Annotated[str | None, Query(max_length=100, description="Only this district.")] = None,
) -> Response:
    """Counts by day (city time zone), type, district and status; overdue cases; on-time closure
    rate = closed cases whose disposal (handled_at) was at or before the deadline / closed cases
    with a deadline. Over 10,000 cases the answer may be up to 5 s old (cached per query)."""
    since = since.replace(tzinfo=since.tzinfo or UTC) if since else None
    until = until.replace(tzinfo=until.tzinfo or UTC) if until else None
    cache = app_cache(context.extras)
    key = ("stats", since, until, type, district)

    def compute() -> tuple[int, bytes]:
        return _render(_compute(context.database, context.config.timezone, since, until, type, district))

    def keep(result: tuple[int, bytes]) -> bool:
        return result[0] > BIG

    found, cached = cache.get_cached(key, compute, keep)  # a hit is answered on the event loop
    _total, body = cached if found else await run_in_threadpool(cache.get_or_compute, key, compute, keep)
    return Response(body, media_type="application/json")


def _render(stats: dict[str, Any]) -> tuple[int, bytes]:
    # orjson: a 2 MB all-time answer renders in a few ms, so a background refresh barely holds the GIL
    return stats["total"], orjson.dumps(stats)


def _compute(
    database: Database,
    timezone: str,
    since: datetime | None,
    until: datetime | None,
    type_: str | None,
    district: str | None,
) -> dict[str, Any]:
    conditions = []
    if since:
        conditions.append(Case.created_at >= since)
    if until:
        conditions.append(Case.created_at < until)
    if type_:
        conditions.append(Case.type == type_)
    if district:
        conditions.append(Case.district == district)
    with database.read_session() as session:
        return _query(session, timezone, conditions, since, until)


def _query(
    session: Session, timezone: str, conditions: list[Any], since: datetime | None, until: datetime | None
) -> dict[str, Any]:
    day = _day(session.get_bind().dialect.name, timezone).label("day")
    rows = session.execute(
        select(day, Case.type, Case.district, Case.status, func.count(Case.id))
        .where(*conditions)
        .group_by(day, Case.type, Case.district, Case.status)
        .order_by(day, Case.type, Case.district, Case.status)
    ).all()
    by_day = [{"day": str(d), "type": t, "district": dist, "status": st, "count": n} for d, t, dist, st, n in rows]
    by_type: dict[str, int] = {}
    by_district: dict[str, int] = {}
    by_status: dict[str, int] = {}
    for _d, t, dist, st, n in rows:
        by_type[t] = by_type.get(t, 0) + n
        by_district[dist] = by_district.get(dist, 0) + n
        by_status[st] = by_status.get(st, 0) + n
    now = datetime.now(UTC)
    overdue = session.scalar(
        select(func.count(Case.id)).where(*conditions, Case.status.in_(workflow.DEADLINE_STATUSES), Case.deadline < now)
    )
    closed, on_time = session.execute(
        select(func.count(Case.id), func.count(Case.id).filter(Case.handled_at <= Case.deadline)).where(
            *conditions, Case.status == "closed", Case.deadline.is_not(None)
        )
    ).one()
    return {
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "total": sum(by_status.values()),
        "by_type": by_type,
        "by_district": by_district,
        "by_status": by_status,
        "by_day": by_day,
        "overdue": overdue or 0,
        "on_time": {"closed": closed, "on_time": on_time, "rate": round(on_time / closed, 4) if closed else None},
    }
