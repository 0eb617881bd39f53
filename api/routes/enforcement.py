"""Parking enforcement over HTTP: a parking case's assessment (plate, first violation, waiver,
next step) and its audited steps, the owners' registry (phone numbers masked everywhere except an
operator's audited lookup on a case), and the campaign report as JSON, CSV or Excel."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from api.auth_responses import AUTH_RESPONSES, BAD_BODY
from api.deps import Admin, Context, Operator, Viewer
from api.responses import FastJSONResponse
from api.schemas import Problem
from citywatch.domain.campaign import campaign_report, report_rows
from citywatch.domain.enforcement import (
    STEPS,
    VEHICLE_KINDS,
    EnforcementError,
    assess,
    case_plate,
    lookup_owner,
    owner_view,
    record_step,
)
from citywatch.domain.tables import Case, Owner

router = APIRouter(tags=["enforcement"], responses=AUTH_RESPONSES)
CaseId = Annotated[int, Path(ge=1, le=2**63 - 1)]
PlateText = Annotated[str, Path(min_length=2, max_length=16)]
NO_CASE: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "No such case"}}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class StepIn(BaseModel):
    """One enforcement step on a parking case."""

    model_config = ConfigDict(extra="forbid")

    step: Literal["move_on", "card", "phone", "notice", "waiver", "tow"] = Field(
        description=", ".join(f"{k} ({v})" for k, v in STEPS.items())
    )
    note: str | None = Field(None, max_length=2000)
    vehicle_kind: Literal["car", "two_wheel", "three_wheel", "four_wheel_e"] | None = Field(
        None, description=f"What was towed (a tow needs it): {', '.join(VEHICLE_KINDS)}."
    )


class OwnerIn(BaseModel):
    """A vehicle owner's contact, as the bureau registers it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("", max_length=100)
    phone: str = Field(min_length=5, max_length=32, pattern=r"^[0-9+\- ]+$")


def _case(session: Session, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise HTTPException(404, detail=f"case {case_id} not found")
    return case


@router.get("/api/cases/{case_id}/enforcement", summary="A parking case's enforcement state", responses=NO_CASE)
def get_enforcement(case_id: CaseId, context: Context, user: Viewer) -> FastJSONResponse:
    """Plate, first violation within the look-back window, strict section, notice and departure
    times, whether the waiver may be granted, the steps so far and the suggested next one; the
    owner's contact with the phone masked when one is registered."""
    with context.database.read_session() as session:
        case = _case(session, case_id)
        state = assess(session, case, context.config.enforcement, datetime.now(UTC)).payload()
        owner = session.get(Owner, state["plate"]) if state["plate"] else None
        state["owner"] = owner_view(owner) if owner else None
    return FastJSONResponse(state)


@router.post(
    "/api/cases/{case_id}/enforcement",
    status_code=201,
    summary="Record an enforcement step (operators)",
    responses={
        **NO_CASE,
        409: {"model": Problem, "description": "Not a parking case, closed, or no waiver"},
        **BAD_BODY,
    },
)
def post_enforcement(case_id: CaseId, body: StepIn, context: Context, user: Operator) -> FastJSONResponse:
    """Appends the step to the case's audit trail; a waiver only when the assessment allows it."""
    now = datetime.now(UTC)
    try:
        with context.database.session() as session:
            case = _case(session, case_id)
            action = record_step(
                session, case, body.step, user.name, context.config.enforcement, now, note=body.note,
                vehicle_kind=body.vehicle_kind,
            )  # fmt: skip
            session.flush()
            answer = {"id": action.id, "step": body.step, "at": action.at, "actor": user.name}
    except EnforcementError as exc:
        if exc.status == 422:  # a tow without what was towed: in the shape of a validation error
            wrong = {"loc": ["body", "vehicle_kind"], "msg": str(exc), "type": "value_error"}
            raise HTTPException(422, detail=[wrong]) from exc
        raise HTTPException(exc.status, detail=str(exc)) from exc
    return FastJSONResponse(answer, status_code=201)


@router.post(
    "/api/cases/{case_id}/owner-lookup",
    summary="The case vehicle's owner with the full phone number (operators; audited)",
    responses={**NO_CASE, 409: {"model": Problem, "description": "The case has no plate"}},
)
def post_owner_lookup(case_id: CaseId, context: Context, user: Operator) -> FastJSONResponse:
    """Every call is written on the case's record (who, when, which plate; never the number)."""
    try:
        with context.database.session() as session:
            owner = lookup_owner(session, _case(session, case_id), user.name)
    except EnforcementError as exc:
        raise HTTPException(exc.status, detail=str(exc)) from exc
    if owner is None:
        raise HTTPException(404, detail=f"no owner registered for plate {case_plate_of(context, case_id)}")
    return FastJSONResponse(owner)


def case_plate_of(context: Context, case_id: int) -> str | None:
    with context.database.read_session() as session:
        return case_plate(session, case_id)


@router.put("/api/owners/{plate}", summary="Register a vehicle owner's contact (admins)", responses=BAD_BODY)
def put_owner(plate: PlateText, body: OwnerIn, context: Context, user: Admin) -> FastJSONResponse:
    """Create or replace the owner of `plate`; the answer shows the phone masked."""
    with context.database.session() as session:
        owner = session.get(Owner, plate.upper()) or Owner(plate=plate.upper())
        owner.name, owner.phone, owner.updated_by = body.name, body.phone, user.name
        owner.updated_at = datetime.now(UTC)
        session.add(owner)
        session.flush()
        view = owner_view(owner)
    return FastJSONResponse(view)


@router.get(
    "/api/owners/{plate}",
    summary="A vehicle owner's contact, the phone masked",
    responses={404: {"model": Problem, "description": "No owner registered"}},
)
def get_owner(plate: PlateText, context: Context, user: Viewer) -> FastJSONResponse:
    """The full number is only given by an audited lookup on a case (`POST .../owner-lookup`)."""
    with context.database.read_session() as session:
        owner = session.get(Owner, plate.upper())
        if owner is None:
            raise HTTPException(404, detail=f"no owner registered for plate {plate}")
        return FastJSONResponse(owner_view(owner))


@router.get(
    "/api/reports/campaign",
    summary="The parking campaign report (JSON, CSV or Excel)",
    responses={200: {"content": {"text/csv": {}, XLSX: {}}}},
)
def get_campaign_report(
    context: Context,
    user: Viewer,
    start: Annotated[AwareDatetime, Query(description="ISO 8601 with offset")],
    end: Annotated[AwareDatetime, Query(description="ISO 8601 with offset, after start")],
    district: Annotated[str | None, Query(max_length=100)] = None,
    format: Annotated[Literal["json", "csv", "xlsx"], Query()] = "json",
) -> Response:
    """Counts of the range (steps, towing by vehicle kind, waivers, cases, plates, repeat
    offenders, owner lookups) and the minutes cases waited for their first step."""
    if not start < end:
        raise HTTPException(
            422, detail=[{"loc": ["query", "end"], "msg": "end must be after start", "type": "value_error"}]
        )
    with context.database.read_session() as session:
        report = campaign_report(session, start=start, end=end, district=district)
    name = f"campaign-{start:%Y%m%d}-{end:%Y%m%d}{'-' + district if district else ''}"
    if format == "json":
        return FastJSONResponse(report)
    rows = report_rows(report)
    if format == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["key", "项目", "数量"])
        writer.writerows(rows)
        headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{name}.csv"}
        return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
    return Response(
        _workbook(report, rows),
        media_type=XLSX,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{name}.xlsx"},
    )


def _workbook(report: dict[str, Any], rows: list[tuple[str, str, int]]) -> bytes:
    # deferred: openpyxl is loaded only for an Excel download
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "专项整治"
    sheet.append(
        [
            "违停专项整治统计",
            f"{report['start']:%Y-%m-%d %H:%M} — {report['end']:%Y-%m-%d %H:%M}",
            report["district"] or "全部",
        ]
    )
    sheet.append(["key", "项目", "数量"])
    for row in rows:
        sheet.append(list(row))
    sheet.append(["response_median_min", "首次处置用时中位数（分钟）", report["response_min"]["median"]])
    sheet.column_dimensions["B"].width = 28
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
