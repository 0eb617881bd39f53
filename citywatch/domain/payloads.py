"""Payloads: the one description of each stored row (event, case, case step, mode switch) that
every surface derives from: the API, `replay --json`, MQTT and webhooks, the live console.

Each builder takes a row as a mapping of its columns (a Core row's `_asdict()`, or `columns_of` an
ORM object) and returns a plain dict; timestamps stay `datetime`s until `jsonable` (or the API's
orjson) writes them. The API swaps evidence file paths for URLs; nothing else reshapes a payload.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from citywatch.domain import workflow
from citywatch.domain.tables import Case, Event


def columns_of(row: object, names: Iterable[str]) -> dict[str, Any]:
    """The named columns of an ORM object (or any object with those attributes) as a mapping."""
    return {name: getattr(row, name) for name in names}


def jsonable(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A payload with its timestamps as ISO 8601 strings, for `json.dumps`."""
    return {key: _iso(value) if isinstance(value, datetime) else value for key, value in payload.items()}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _rounded(value: float | None, digits: int) -> float | None:
    return round(value, digits) if value is not None else None


#: The stored columns of an event that its payload shows.
EVENT_PAYLOAD_COLUMNS: tuple[str, ...] = (
    "id", "uid", "type", "camera_id", "rule_id", "zone_id", "label", "track_id", "first_seen_s", "triggered_s",
    "ended_s", "duration_s", "score", "box", "snapshot_path", "evidence", "clip", "review_status",
    "review_reason", "case_id", "occurred_at", "plate", "end_reason",
)  # fmt: skip
#: The same as table columns, for reads that select exactly what a payload needs.
EVENT_COLUMNS = tuple(Event.__table__.c[name] for name in EVENT_PAYLOAD_COLUMNS)


def event_payload(row: Mapping[str, Any]) -> dict[str, Any]:
    """The description of a stored event from its `EVENT_PAYLOAD_COLUMNS`.

    Stream times (`first_seen_s`, `triggered_s`, `dwell_s`, `ended_s`, `duration_s`) are rounded to
    the millisecond, the score to 4 digits, the box to 0.1 pixel. `snapshot` and `evidence` carry
    the files' paths (the API serves URLs instead); `clip` the MP4's path relative to the recordings
    directory, null until the clip is written (or when there is none)."""
    first_seen, triggered = row["first_seen_s"], row["triggered_s"]
    return {
        "id": row["id"],
        "uid": row["uid"],
        "type": row["type"],
        "camera_id": row["camera_id"],
        "rule_id": row["rule_id"],
        "zone_id": row["zone_id"],
        "label": row["label"],
        "track_id": row["track_id"],
        "first_seen_s": round(first_seen, 3),
        "triggered_s": round(triggered, 3),
        "dwell_s": round(triggered - first_seen, 3),
        "ended_s": _rounded(row["ended_s"], 3),
        "duration_s": _rounded(row["duration_s"], 3),
        "score": _rounded(row["score"], 4),
        "box": [round(v, 1) for v in row["box"]] if row["box"] else None,
        "snapshot": row["snapshot_path"],
        "evidence": [{"kind": item["kind"], "path": item["path"]} for item in row["evidence"] or []],
        "clip": row["clip"],
        "review_status": row["review_status"],
        "review_reason": row["review_reason"],
        "case_id": row["case_id"],
        "occurred_at": row["occurred_at"],
        "plate": row["plate"],
        "end_reason": row["end_reason"],
    }


def event_row_payload(event: Event) -> dict[str, Any]:
    """`event_payload` of an ORM event."""
    return event_payload(columns_of(event, EVENT_PAYLOAD_COLUMNS))


#: The stored columns of a case that its payload shows, in payload order.
CASE_PAYLOAD_COLUMNS: tuple[str, ...] = (
    "id", "type", "status", "priority", "source", "hotline_ticket", "camera_id", "zone_id", "rule_id",
    "location", "district", "street", "description", "team", "deadline", "deadline_h", "reject_reason", "disposal_note",
    "event_count", "last_event_at", "created_at", "updated_at", "registered_at", "dispatched_at",
    "handled_at", "verified_at", "closed_at",
)  # fmt: skip
#: The same as table columns, for reads that select exactly what a payload needs.
CASE_COLUMNS = tuple(Case.__table__.c[name] for name in CASE_PAYLOAD_COLUMNS)


def case_row_payload(row: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The description of a case from its `CASE_PAYLOAD_COLUMNS`, timestamps left as `datetime`s
    (the API writes them with orjson; `case_payload` turns them into ISO 8601 strings)."""
    payload = dict(row)
    status = payload["status"]
    payload["status_label"] = workflow.LABELS.get(status, status)
    payload["overdue"] = workflow.is_overdue(status, payload["deadline"], now)
    payload["event_count"] = payload["event_count"] or 0
    payload["allowed_transitions"] = list(workflow.allowed(status))
    return payload


def case_payload(case: Case, now: datetime | None = None) -> dict[str, Any]:
    """The JSON-ready description of a case (API, MQTT `citywatch/cases`, webhooks, CSV)."""
    return jsonable(case_row_payload(columns_of(case, CASE_PAYLOAD_COLUMNS), now or datetime.now(UTC)))


def action_payload(action: Any) -> dict[str, Any]:
    """The JSON-ready description of one audit-trail entry (an ORM `CaseAction` or a Core row)."""
    return {
        "id": action.id,
        "case_id": action.case_id,
        "actor": action.actor,
        "at": _iso(action.at),
        "action": action.action,
        "from_status": action.from_status,
        "to_status": action.to_status,
        "note": action.note,
        "attachments": list(action.attachments or []),
        "data": dict(action.data or {}),
    }


def mode_change_payload(row: Any) -> dict[str, Any]:
    """The JSON-ready description of one mode switch."""
    return {
        "id": row.id,
        "mode": row.mode,
        "previous": row.previous,
        "changed_by": row.changed_by,
        "via": row.via,
        "changed_at": _iso(row.changed_at),
    }
