"""Cases: the ledger over HTTP: list and filter, CSV export, hotline intake, detail, transitions.

Reads need the viewer role (or `api.anonymous_read`); intake and transitions need an operator.
A refused transition is 409 with the allowed next statuses; a missing step field is 422.
"""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import BindParameter, Select, bindparam, func, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.auth_responses import AUTH_RESPONSES, BAD_BODY
from api.cache import page_total
from api.deps import Context, DbSession, Operator, require_role
from api.responses import FastJSONResponse
from api.routes.recordings import export_out
from api.schemas import (
    CaseDetail,
    CasePage,
    HotlineCaseIn,
    Problem,
    Status,
    TransitionIn,
    TransitionOut,
)
from api.views import action_out, case_out, event_out, event_row_view
from citywatch.domain import ledger, workflow
from citywatch.domain.payloads import CASE_COLUMNS, EVENT_COLUMNS, action_payload, case_payload, case_row_payload
from citywatch.domain.tables import Camera, Case, CaseAction, Event, Recording

#: A row id: bounded so a huge number is a 422, not a database overflow.
RowId = Annotated[int, Path(ge=1, le=2_147_483_647, description="Row id.")]

router = APIRouter(prefix="/api/cases", tags=["cases"], dependencies=[Depends(require_role("viewer"))])

CSV_COLUMNS = (
    "id",
    "type",
    "status",
    "status_label",
    "priority",
    "source",
    "hotline_ticket",
    "camera_id",
    "zone_id",
    "location",
    "district",
    "street",
    "team",
    "deadline",
    "overdue",
    "event_count",
    "created_at",
    "registered_at",
    "dispatched_at",
    "handled_at",
    "verified_at",
    "closed_at",
    "reject_reason",
    "disposal_note",
)


class CaseFilters(BaseModel):
    """Query filters shared by the list and the CSV export (a query-parameter model: FastAPI
    validates it in place, with no dependency call per request)."""

    status: list[Status] | None = Field(None, description="Only these statuses (repeatable).")
    type: str | None = Field(None, max_length=40, description="Only this type.")
    camera_id: str | None = Field(None, max_length=64, description="Only this camera.")
    district: str | None = Field(None, max_length=100, description="Only this district (区).")
    street: str | None = Field(None, max_length=100, description="Only this street (街道).")
    source: str | None = Field(None, pattern="^(camera|hotline)$", description="camera or hotline.")
    since: datetime | None = Field(None, description="Created at or after (ISO 8601).")
    until: datetime | None = Field(None, description="Created before (ISO 8601).")
    overdue: bool | None = Field(None, description="true: only overdue; false: only not overdue.")

    def apply(self, query: Select, now: datetime) -> Select:
        if self.status:
            query = query.where(Case.status.in_(self.status))
        for column, value in (
            (Case.type, self.type),
            (Case.camera_id, self.camera_id),
            (Case.district, self.district),
            (Case.street, self.street),
            (Case.source, self.source),
        ):
            if value:
                query = query.where(column == value)
        if self.since:
            query = query.where(Case.created_at >= _aware(self.since))
        if self.until:
            query = query.where(Case.created_at < _aware(self.until))
        if self.overdue is not None:
            # the statuses inline (not bound): the planner can then use the partial index of working cases
            working: BindParameter[list[str]] = bindparam(
                "working", list(workflow.DEADLINE_STATUSES), expanding=True, literal_execute=True
            )
            overdue = Case.status.in_(working) & (Case.deadline < now)
            query = query.where(overdue if self.overdue else ~overdue | Case.deadline.is_(None))
        return query


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


Filters = Annotated[CaseFilters, Query()]


@router.get("", response_model=CasePage, summary="List cases", responses=AUTH_RESPONSES)
def list_cases(
    context: Context,
    filters: Filters,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    after: Annotated[
        str | None,
        Query(
            max_length=200,
            description="The `next` of the previous page: the page after it (then leave "
            "`offset` out). Deep pages cost what the first does; with `offset` the database walks "
            "every skipped case.",
        ),
    ] = None,
) -> FastJSONResponse:
    """Cases newest first (stable order: created_at, then id), filtered by status, type, camera,
    district, street, source, creation time and overdue. A `total` over 10,000 may be up to 5 s old.
    Page with `next`/`after` (keyset) or with `offset`."""
    now = datetime.now(UTC)
    query = filters.apply(select(*CASE_COLUMNS), now)
    if after is not None:
        if offset:
            raise RequestValidationError(
                [
                    {
                        "type": "value_error",
                        "loc": ("query", "after"),
                        "msg": "give either `after` or `offset`, not both",
                        "input": after,
                    }
                ]
            )
        created_at, case_id = decode_cursor(after)
        query = query.where(tuple_(Case.created_at, Case.id) < (created_at, case_id))  # typed by the columns
    page = query.order_by(Case.created_at.desc(), Case.id.desc()).limit(limit).offset(offset)
    # Core rows, not ORM objects: a page is read-only, so it needs no identity map or change tracking
    with context.database.read_session() as session:
        items = [case_row_payload(row._asdict(), now) for row in session.connection().execute(page)]
    total = page_total(
        context,
        ("cases", repr(sorted(filters.model_dump().items()))),
        filters.apply(select(func.count(Case.id)), now),
        offset,
        limit,
        len(items),
        exact_if_last=after is None,  # after a cursor, the rows before it are not known here
    )
    following = encode_cursor(items[-1]["created_at"], items[-1]["id"]) if len(items) == limit else None
    return FastJSONResponse({"items": items, "total": total, "limit": limit, "offset": offset, "next": following})


def encode_cursor(created_at: datetime, case_id: int) -> str:
    """The opaque keyset cursor of a case: its place in the list order (created_at, id)."""
    raw = f"{created_at.astimezone(UTC).isoformat()}|{case_id}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """The (created_at, id) of a cursor from `encode_cursor`; a 422 naming `after` when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, _, ident = raw.partition("|")
        created_at, case_id = datetime.fromisoformat(when), int(ident)
        if created_at.tzinfo is None or not 1 <= case_id <= 2_147_483_647:
            raise ValueError(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("query", "after"), "msg": "not a cursor from `next`", "input": cursor}]
        ) from exc
    return created_at, case_id


@router.get(
    "/export.csv",
    summary="Export the ledger as CSV",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {}}, "description": "UTF-8 CSV with a BOM (opens in Excel)"},
        **AUTH_RESPONSES,
    },
)
def export_cases(session: DbSession, filters: Filters) -> StreamingResponse:
    """Every matching case, one row each, oldest first; same filters as the list."""
    now = datetime.now(UTC)
    query = filters.apply(select(Case), now).order_by(Case.created_at, Case.id)
    rows = [case_payload(row, now) for row in session.scalars(query)]

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")
        writer.writerow(CSV_COLUMNS)
        for start in range(0, max(len(rows), 1), 500):
            for payload in rows[start : start + 500]:
                writer.writerow(["" if payload[c] is None else payload[c] for c in CSV_COLUMNS])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()

    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="cases.csv"'},
    )


@router.post(
    "",
    response_model=CaseDetail,
    status_code=201,
    summary="Open a case from a hotline ticket",
    responses={409: {"model": Problem, "description": "A case with this ticket exists"}, **BAD_BODY, **AUTH_RESPONSES},
)
def create_case(body: HotlineCaseIn, context: Context, user: Operator) -> CaseDetail:
    """A 12345 hotline ticket becomes a case in the same workflow, starting `registered` (立案).
    A 201 means stored: the answer is built after the commit."""
    with context.database.session() as session:
        if session.scalar(select(Case.id).where(Case.hotline_ticket == body.ticket)) is not None:
            raise HTTPException(409, detail=f"a case for hotline ticket {body.ticket!r} already exists")
        if body.camera_id is not None and session.get(Camera, body.camera_id) is None:
            raise HTTPException(
                422,
                detail=[
                    {"loc": ["body", "camera_id"], "msg": f"unknown camera {body.camera_id!r}", "type": "value_error"}
                ],
            )
        try:
            case = ledger.create_hotline_case(
                session,
                user.name,
                body.ticket,
                body.type,
                body.description,
                body.location,
                body.district,
                body.street,
                body.camera_id,
                body.zone_id,
                body.priority,
                body.deadline_h,
            )
            session.flush()
        except IntegrityError:
            raise HTTPException(409, detail=f"a case for hotline ticket {body.ticket!r} already exists") from None
        detail = _detail(session, case)
    return detail


def _get(session: Session, case_id: int) -> Case:
    row = session.get(Case, case_id)
    if row is None:
        raise HTTPException(404, detail=f"case {case_id} not found")
    return row


def _detail(session: Session, case: Case) -> CaseDetail:
    events = session.scalars(
        select(Event).where(Event.case_id == case.id).order_by(Event.occurred_at.desc(), Event.id.desc()).limit(200)
    )
    actions = session.scalars(select(CaseAction).where(CaseAction.case_id == case.id).order_by(CaseAction.id))
    return CaseDetail(
        **case_out(case).model_dump(), events=[event_out(e) for e in events], actions=[action_out(a) for a in actions]
    )


@router.get(
    "/{case_id}",
    response_model=CaseDetail,
    summary="One case with its events and audit trail",
    responses={404: {"model": Problem, "description": "No such case"}, **AUTH_RESPONSES},
)
def get_case(case_id: RowId, context: Context) -> FastJSONResponse:
    """The case, its evidence (newest 200 events) and every step on its record, oldest first."""
    now = datetime.now(UTC)
    with context.database.read_session() as session:  # Core rows, as in the lists: read-only
        connection = session.connection()
        row = connection.execute(select(*CASE_COLUMNS).where(Case.id == case_id)).first()
        if row is None:
            raise HTTPException(404, detail=f"case {case_id} not found")
        events = connection.execute(
            select(*EVENT_COLUMNS)
            .where(Event.case_id == case_id)
            .order_by(Event.occurred_at.desc(), Event.id.desc())
            .limit(200)
        )
        detail = case_row_payload(row._asdict(), now)
        detail["events"] = [event_row_view(event._asdict()) for event in events]
        actions = connection.execute(
            select(*CaseAction.__table__.columns).where(CaseAction.case_id == case_id).order_by(CaseAction.id)
        )
        detail["actions"] = [action_payload(action) for action in actions]
        exports = session.scalars(
            select(Recording).where(Recording.case_id == case_id, Recording.kind == "export").order_by(Recording.id)
        )
        detail["exports"] = [export_out(export) for export in exports]
    return FastJSONResponse(detail)


@router.post(
    "/{case_id}/transitions",
    response_model=TransitionOut,
    summary="Move a case to its next status",
    responses={
        404: {"model": Problem, "description": "No such case"},
        409: {"model": Problem, "description": "Not allowed from the current status; `allowed` lists what is"},
        **BAD_BODY,
        **AUTH_RESPONSES,
    },
)
def post_transition(case_id: RowId, body: TransitionIn, context: Context, user: Operator) -> Any:
    """立案 (registered), 派遣 (dispatched: team, deadline), 处置 (handled: note, photos), 核查 (verified),
    结案 (closed), or rejected (note: the reason); handled → dispatched when verification fails.

    Of concurrent requests for the same step one wins and the others get 409: the case row is
    locked for the transaction (SQLite: the database write lock, taken before the case is read;
    PostgreSQL: `SELECT ... FOR UPDATE`), and a 200 is answered after the commit."""
    with context.database.session() as session:
        case = session.get(Case, case_id, with_for_update=True)
        if case is None:
            raise HTTPException(404, detail=f"case {case_id} not found")
        request = ledger.TransitionRequest(
            to=body.to, note=body.note, team=body.team, deadline=body.deadline, attachments=body.attachments
        )
        try:
            action = ledger.transition(session, case, request, user.name)
        except ledger.TransitionError as exc:
            session.rollback()
            if exc.status == 422:
                return JSONResponse(
                    status_code=422,
                    content={"detail": [{"loc": ["body", exc.field], "msg": exc.message, "type": "missing"}]},
                )
            return JSONResponse(status_code=409, content={"detail": exc.message, "allowed": list(exc.allowed)})
        answer = TransitionOut(case=case_out(case), action=action_out(action))
    return answer
