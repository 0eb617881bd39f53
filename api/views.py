"""The API's forms of the domain's payloads (`citywatch.domain.payloads`): what a client sees.

An event's file paths (evidence images, its clip) become URLs under `/api/events/{id}/`;
everything else is the payload as the domain builds it. List pages write these dicts with orjson
directly; single answers validate them into the response models of `api.schemas`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from api.schemas import CaseActionOut, CaseOut, EventOut
from citywatch.domain.payloads import action_payload, case_payload, event_payload, event_row_payload
from citywatch.domain.tables import Case, CaseAction, Event

#: The event fields the API shows as stored (the rest are the URLs made here).
_EVENT_FIELDS = tuple(name for name in EventOut.model_fields if name not in ("snapshot_url", "evidence", "clip_url"))


def event_view(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The API form of an event payload: its fields with the evidence served as URLs."""
    event_id = payload["id"]
    view = {name: payload[name] for name in _EVENT_FIELDS}
    view["snapshot_url"] = f"/api/events/{event_id}/snapshot.jpg"
    view["evidence"] = [
        {"kind": item["kind"], "url": f"/api/events/{event_id}/evidence/{item['kind']}.jpg"}
        for item in payload["evidence"]
    ]
    view["clip_url"] = f"/api/events/{event_id}/clip.mp4" if payload.get("clip") else None
    return view


def event_row_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """`event_view` of a Core row of `EVENT_COLUMNS` (as `row._asdict()`)."""
    return event_view(event_payload(row))


def event_out(row: Event) -> EventOut:
    """The API form of an event row."""
    return EventOut.model_validate(event_view(event_row_payload(row)))


def case_out(row: Case, now: datetime | None = None) -> CaseOut:
    """The API form of a case row."""
    return CaseOut.model_validate(case_payload(row, now))


def action_out(row: CaseAction) -> CaseActionOut:
    """The API form of an audit-trail row."""
    return CaseActionOut.model_validate(action_payload(row))
