"""Vehicles by plate (parking enforcement): repeat offenders within a look-back window, and one
vehicle's history (its events and cases). Plates come from parking rules with `plates: true`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from api.auth_responses import AUTH_RESPONSES
from api.deps import Context, require_role
from api.responses import FastJSONResponse
from api.schemas import Problem
from citywatch.domain.vehicles import repeat_offenders, vehicle_history

router = APIRouter(
    prefix="/api/vehicles", tags=["vehicles"], dependencies=[Depends(require_role("viewer"))], responses=AUTH_RESPONSES
)
#: The default look-back window of "repeat" (a year: the usual 首违免罚 window of a city's rules).
DEFAULT_WITHIN_DAYS = 365.0
Within = Annotated[float, Query(gt=0, le=3650, description="Look-back window in days.")]


@router.get("", summary="Vehicles seen more than once within the window (repeat offenders)")
def list_repeat_offenders(
    context: Context,
    within_days: Within = DEFAULT_WITHIN_DAYS,
    min_events: Annotated[int, Query(ge=1, le=1000)] = 2,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> FastJSONResponse:
    """Plates with at least `min_events` events (rejected ones not counted) in the last
    `within_days`, most first; `min_events=1` lists every vehicle seen in the window."""
    with context.database.read_session() as session:
        items = repeat_offenders(
            session, now=datetime.now(UTC), within_days=within_days, min_events=min_events, limit=limit
        )
    return FastJSONResponse({"within_days": within_days, "items": items})


@router.get(
    "/{plate}",
    summary="One vehicle's events and cases",
    responses={404: {"model": Problem, "description": "Plate never seen"}},
)
def get_vehicle(
    plate: Annotated[str, Path(min_length=2, max_length=16)],
    context: Context,
    within_days: Within = DEFAULT_WITHIN_DAYS,
) -> FastJSONResponse:
    """The vehicle, `recent_count` and `repeat` within the window, every event newest first."""
    with context.database.read_session() as session:
        history = vehicle_history(session, plate.upper(), now=datetime.now(UTC), within_days=within_days)
    if history is None:
        raise HTTPException(404, detail=f"no vehicle with plate {plate!r} has been seen")
    return FastJSONResponse(history)
