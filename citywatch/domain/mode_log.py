"""The record of operating-mode switches (`mode_changes`): who switched to what, from what, when.

The newest row is the current mode, so it survives a restart and a switch made by another
process reaches a running pipeline (`citywatch.modes.ModeHolder` polls `latest_change`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from citywatch.domain.db import Database
from citywatch.domain.payloads import mode_change_payload
from citywatch.domain.tables import ModeChange


def latest_change(database: Database) -> dict[str, Any] | None:
    """The newest switch as a dict, or None when the mode was never switched."""
    with database.session() as session:
        row = session.scalars(select(ModeChange).order_by(ModeChange.id.desc()).limit(1)).first()
        return None if row is None else mode_change_payload(row)


def record_change(database: Database, mode: str, changed_by: str, via: str, previous: str | None) -> dict[str, Any]:
    """Append a switch; returns it as a dict."""
    with database.session() as session:
        row = ModeChange(mode=mode, previous=previous, changed_by=changed_by, via=via)
        session.add(row)
        session.flush()
        return mode_change_payload(row)


def mode_history(database: Database, limit: int = 20) -> list[dict[str, Any]]:
    """The newest `limit` switches, newest first."""
    with database.session() as session:
        rows = session.scalars(select(ModeChange).order_by(ModeChange.id.desc()).limit(limit)).all()
        return [mode_change_payload(row) for row in rows]
