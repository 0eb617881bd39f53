"""Operating mode: `GET /api/mode` (current mode, per-camera plan, recent switches) and
`PUT /api/mode` (switch; operator role: the duty officer declares flood season when the rain
comes, at any hour, without waiting for an administrator; recorded with who and when).

A switch is written to `mode_changes`; when the pipeline runs in this process its `ModeHolder`
(`AppContext.mode_holder`) switches at once, otherwise the running pipeline picks the
row up within `mode_poll_s`. Either way cameras re-plan at their next analysed frame.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from api.deps import AppContext, Context, Operator, Viewer
from citywatch.domain.mode_log import latest_change, mode_history
from citywatch.modes import UnknownModeError, plan_for, plan_payload, set_mode, stored_mode

router = APIRouter(prefix="/api/mode", tags=["mode"])


class ModeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: str = Field(min_length=1, max_length=64, examples=["flood"], description="A mode defined in the config.")


def _state(context: AppContext) -> dict[str, Any]:
    config = context.config
    holder = context.mode_holder
    if holder is not None:
        mode, current = holder.current()[0], latest_change(context.database)
    else:
        mode, current = stored_mode(config, context.database)
    cameras = {c.id: {"groups": c.groups, **plan_payload(plan_for(config, mode, c))} for c in config.cameras}
    return {
        "mode": mode,
        "changed_by": current["changed_by"] if current else None,
        "changed_at": current["changed_at"] if current else None,
        "modes": {name: spec.description for name, spec in config.modes.items()},
        "cameras": cameras,
        "history": mode_history(context.database, 10),
    }


@router.get("", summary="Current operating mode")
def get_mode(context: Context, user: Viewer) -> dict[str, Any]:
    """The current mode, what it means for each camera, and the last switches (who, when)."""
    return _state(context)


@router.put("", summary="Switch the operating mode", responses={422: {"description": "Unknown mode"}})
def put_mode(body: ModeIn, context: Context, user: Operator) -> dict[str, Any]:
    """Switch mode (e.g. to `flood`); takes effect on running cameras at their next analysed frame."""
    holder = context.mode_holder
    try:
        if holder is not None:
            holder.set(body.mode, user.name, via="api")
        else:
            set_mode(context.config, context.database, body.mode, user.name, via="api")
    except UnknownModeError as exc:
        raise HTTPException(422, detail=str(exc)) from None
    return _state(context)
