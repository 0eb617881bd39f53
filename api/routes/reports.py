"""The ledger's statistics report for a date range (`GET /api/reports/cases`): totals, rankings by
district, street, team and camera, handling times, on-time rates and false-alarm rates per camera
and rule (`citywatch.domain.case_report`), as JSON, CSV (one section per table) or an Excel
workbook (one sheet per table) with the same numbers; and the shift handover summary
(`GET /api/handover`, `citywatch.domain.handover`)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response
from pydantic import AwareDatetime

from api.auth_responses import AUTH_RESPONSES
from api.deps import Context, Viewer
from api.responses import FastJSONResponse
from citywatch.domain.case_report import case_report, report_tables
from citywatch.domain.handover import handover

router = APIRouter(tags=["reports"], responses=AUTH_RESPONSES)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: Sheet and section titles as the bureau reads them.
TITLES = {
    "totals": "总计",
    "by_district": "按辖区",
    "by_street": "按街道",
    "by_team": "按队伍",
    "by_camera": "按摄像头",
    "false_alarms_by_camera": "误报率（按摄像头）",
    "false_alarms_by_rule": "误报率（按规则）",
}


@router.get(
    "/api/reports/cases",
    summary="Statistics of a date range: rankings, handling times, on-time and false-alarm rates",
    responses={200: {"content": {"text/csv": {}, XLSX: {}}}},
)
def get_case_report(
    context: Context,
    user: Viewer,
    start: Annotated[AwareDatetime, Query(description="ISO 8601 with offset")],
    end: Annotated[AwareDatetime, Query(description="ISO 8601 with offset, after start, at most a year on")],
    format: Annotated[Literal["json", "csv", "xlsx"], Query()] = "json",
) -> Response:
    """Cases opened in [start, end) and events raised in it (definitions in the module docstring
    of `citywatch.domain.case_report`)."""
    if not start < end or (end - start).days > 366:
        wrong = {"loc": ["query", "end"], "msg": "end must be after start, at most a year on", "type": "value_error"}
        raise HTTPException(422, detail=[wrong])
    with context.database.read_session() as session:
        report = case_report(session, start=start, end=end)
    if format == "json":
        return FastJSONResponse(report)
    tables = report_tables(report)
    name = f"report-{start:%Y%m%d}-{end:%Y%m%d}"
    if format == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        for title, header, rows in tables:
            writer.writerow([TITLES.get(title, title), title])
            writer.writerow(header)
            writer.writerows(rows)
            writer.writerow([])
        headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{name}.csv"}
        return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{name}.xlsx"}
    return Response(_workbook(tables), media_type=XLSX, headers=headers)


def _workbook(tables: list[tuple[str, list[str], list[list[Any]]]]) -> bytes:
    # deferred: openpyxl is loaded only for an Excel download
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for title, header, rows in tables:
        sheet = book.create_sheet(TITLES.get(title, title)[:31])
        sheet.append(header)
        for row in rows:
            sheet.append(row)
        sheet.column_dimensions["A"].width = 24
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@router.get("/api/handover", summary="The shift handover summary (交接班)")
def get_handover(
    context: Context,
    user: Viewer,
    since: Annotated[AwareDatetime, Query(description="When the shift began (ISO 8601 with offset)")],
    due_within_h: Annotated[float, Query(gt=0, le=72)] = 4.0,
) -> FastJSONResponse:
    """Pending alerts, open cases by status, overdue and soon-due cases, what the shift opened,
    handled and closed, and its mode switches."""
    now = datetime.now(UTC)
    if since >= now:
        wrong = {"loc": ["query", "since"], "msg": "the shift must have begun", "type": "value_error"}
        raise HTTPException(422, detail=[wrong])
    with context.database.read_session() as session:
        return FastJSONResponse(handover(session, since=since, now=now, due_within_h=due_within_h))
