"""Liveness and readiness: `GET /healthz`."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import text

from api.deps import Context
from api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Service health")
def healthz(context: Context, response: Response) -> Health:
    """`ok` when the database answers; camera states when the pipeline runs here."""
    try:
        with context.database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        database = "ok"
    except Exception as exc:
        database = f"unavailable: {type(exc).__name__}"
        response.status_code = 503
    cameras = {cid: h.state for cid, h in context.health().items()} if context.health else {}
    return Health(status="ok" if database == "ok" else "degraded", database=database, cameras=cameras)
