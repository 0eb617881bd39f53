"""Liveness and readiness: `GET /healthz`.

`ok` only when the database can be *written* (a read probe passes on a read-only or locked
database), and nothing else reports the service degraded (`AppContext.degraded`: a full evidence
disk, events held in memory). Otherwise 503 with `status: degraded` and the reasons.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import Context
from api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Service health")
def healthz(context: Context, response: Response) -> Health:
    """`ok` when the database takes writes and nothing is degraded; camera states when the pipeline runs here."""
    database = context.database.write_probe()
    problems = [] if database == "ok" else [f"database {database}"]
    if context.degraded is not None:
        problems.extend(context.degraded())
    if problems:
        response.status_code = 503
    cameras = {cid: h.state for cid, h in context.health().items()} if context.health else {}
    return Health(status="degraded" if problems else "ok", database=database, cameras=cameras, problems=problems)
