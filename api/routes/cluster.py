"""The cluster: `GET /api/cluster`, the nodes, the workers with their cameras, CPU and memory, and
the cameras no worker runs now (`unassigned`), of the engine running the cameras (`citywatch.cluster`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from api.auth_responses import AUTH_RESPONSES
from api.deps import Context, require_role

router = APIRouter(
    prefix="/api/cluster", tags=["cluster"], dependencies=[Depends(require_role("viewer"))], responses=AUTH_RESPONSES
)


class WorkerOut(BaseModel):
    """One worker process: a camera group (ray) or this process (inline)."""

    worker: str = Field(examples=["g1"])
    node: str | None = Field(None, description="The node running it; None while it is down.")
    host: str | None = None
    pid: int | None = None
    state: str = Field(examples=["up"], description="up, or down (its cameras are unassigned).")
    reason: str | None = Field(None, description="Why it is down (starting, restarting, not answering).")
    cameras: list[str]
    cpu_percent: float = Field(description="CPU of the worker process (100 = one core), at its last report.")
    rss_bytes: int = Field(description="Resident memory of the worker process.")
    restarts: int
    events_stored: int


class ClusterOut(BaseModel):
    """The engine, its nodes and workers, and the cameras waiting for a worker."""

    engine: str = Field(examples=["ray"], description="inline or ray (`cluster.engine`).")
    nodes: list[dict[str, Any]] = Field(description="node, host, address, alive, cpus, workers.")
    workers: list[WorkerOut]
    unassigned: list[str] = Field(description="Cameras no worker runs now (their group is down).")


@router.get("", response_model=ClusterOut, summary="Nodes, workers and their cameras")
def get_cluster(context: Context) -> ClusterOut:
    """Where the cameras run: nodes, workers with their cameras, CPU and memory; unassigned
    cameras. Without a running pipeline in this process (`citywatch serve`): no workers."""
    if context.cluster is None:
        return ClusterOut(engine=context.config.cluster.engine, nodes=[], workers=[], unassigned=[])
    return ClusterOut.model_validate(context.cluster())
