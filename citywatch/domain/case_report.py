"""The ledger's report for a date range (统计报表): totals, rankings by district, street, team and
camera, handling times and on-time rates, and false-alarm rates per camera and rule.

Definitions, as the report states them: a case counts in the range it was opened in; *handled* is
a case that reached 已处置 (handled) or later; *on time* a handled case whose handling came by its
deadline (cases without a deadline are not rated); *handling time* the hours from opening to
handling (median); the *false-alarm rate* of a camera or rule the share of its reviewed events in
the range that an operator rejected. `report_tables` flattens it for CSV and Excel, with the same
numbers as the JSON.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citywatch.domain.tables import Case, Event

#: The columns of each ranking, in order.
RANK_COLUMNS = ("cases", "handled", "closed", "on_time", "rated", "on_time_rate", "median_handling_h")
ALARM_COLUMNS = ("events", "reviewed", "rejected", "false_alarm_rate")


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _rank(rows: Iterable[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Groups of case facts → one ranked row per group (most cases first)."""
    ranked = []
    for key, group in rows:
        hours = group["hours"]
        ranked.append(
            {
                "key": key,
                "cases": group["cases"],
                "handled": group["handled"],
                "closed": group["closed"],
                "on_time": group["on_time"],
                "rated": group["rated"],
                "on_time_rate": _ratio(group["on_time"], group["rated"]),
                "median_handling_h": round(statistics.median(hours), 2) if hours else None,
            }
        )
    return sorted(ranked, key=lambda row: (-row["cases"], str(row["key"])))


def _case_groups(cases: Iterable[Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """The facts of each case added to its groups: all, its district, street, team and camera."""
    groups: dict[str, dict[str, dict[str, Any]]] = {
        name: defaultdict(lambda: {"cases": 0, "handled": 0, "closed": 0, "on_time": 0, "rated": 0, "hours": []})
        for name in ("all", "district", "street", "team", "camera")
    }
    for district, street, team, camera, status, created, handled, deadline in cases:
        keys = {
            "all": "all",
            "district": district or "—",
            "street": street or "—",
            "team": team or "—",
            "camera": camera or "—",
        }
        for name, key in keys.items():
            group = groups[name][key]
            group["cases"] += 1
            group["closed"] += status == "closed"
            if handled is not None:
                group["handled"] += 1
                group["hours"].append((handled - created).total_seconds() / 3600)
                if deadline is not None:
                    group["rated"] += 1
                    group["on_time"] += handled <= deadline
    return groups


def _alarm_rows(table: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
    rows = [
        {"key": key, **row, "false_alarm_rate": _ratio(row["rejected"], row["reviewed"])} for key, row in table.items()
    ]
    return sorted(rows, key=lambda r: (-(r["false_alarm_rate"] or 0), str(r["key"])))


def case_report(session: Session, *, start: datetime, end: datetime) -> dict[str, Any]:
    """The report of the cases opened and the events raised in [start, end)."""
    cases = session.execute(
        select(
            Case.district, Case.street, Case.team, Case.camera_id, Case.status, Case.created_at, Case.handled_at,
            Case.deadline,
        ).where(Case.created_at >= start, Case.created_at < end)
    ).all()  # fmt: skip
    groups = _case_groups(cases)
    reviewed = session.execute(
        select(Event.camera_id, Event.rule_id, Event.review_status, func.count(Event.id))
        .where(Event.occurred_at >= start, Event.occurred_at < end)
        .group_by(Event.camera_id, Event.rule_id, Event.review_status)
    ).all()
    alarms: dict[str, dict[str, dict[str, int]]] = {
        name: defaultdict(lambda: dict.fromkeys(ALARM_COLUMNS[:3], 0)) for name in ("camera", "rule")
    }
    for camera, rule, review, count in reviewed:
        for name, key in (("camera", camera), ("rule", rule)):
            row = alarms[name][key]
            row["events"] += count
            row["reviewed"] += count if review in ("confirmed", "rejected") else 0
            row["rejected"] += count if review == "rejected" else 0
    total = _rank(groups["all"].items())
    return {
        "start": start,
        "end": end,
        "totals": total[0] if total else {"key": "all", **dict.fromkeys(RANK_COLUMNS, 0)},
        "by_district": _rank(groups["district"].items()),
        "by_street": _rank(groups["street"].items()),
        "by_team": _rank(groups["team"].items()),
        "by_camera": _rank(groups["camera"].items()),
        "false_alarms": {name: _alarm_rows(table) for name, table in alarms.items()},
    }


def report_tables(report: dict[str, Any]) -> list[tuple[str, list[str], list[list[Any]]]]:
    """(title, header, rows) per table of the report, for CSV and Excel: the totals first."""

    def ranked(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> list[list[Any]]:
        return [[row["key"], *(row[c] for c in columns)] for row in rows]

    tables = [("totals", ["key", *RANK_COLUMNS], ranked([report["totals"]], RANK_COLUMNS))]
    for name in ("by_district", "by_street", "by_team", "by_camera"):
        tables.append((name, ["key", *RANK_COLUMNS], ranked(report[name], RANK_COLUMNS)))
    for name, rows in report["false_alarms"].items():
        tables.append((f"false_alarms_by_{name}", ["key", *ALARM_COLUMNS], ranked(rows, ALARM_COLUMNS)))
    return tables
