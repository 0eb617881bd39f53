"""Shared FastAPI dependencies: the app's context, the database session and the caller's role.

Callers are named by a bearer token in the `Authorization` header, or (for `<img>` tags and
`EventSource`, which cannot send headers) by a `token` query parameter (`QueryViewer`); both go
through the same cached lookup (`api.auth.TokenCache`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from api.auth import ANONYMOUS, token_cache
from citywatch.config import CitywatchConfig
from citywatch.domain.accounts import ROLES, Principal
from citywatch.domain.db import Database
from citywatch.modes import ModeHolder
from citywatch.uptime import UptimeTracker
from vision.frames import Frame
from vision.record.live import LiveHub
from vision.streams import StreamHealth


@dataclass
class AppContext:
    """What the routes need: the config and the database and, when the pipeline runs in this
    process (`api.app.attach_pipeline`), its live views: camera health, detector counters, rule
    status, the mode holder, each camera's last analysed frame and the uptime tracker.
    `extras` holds the app's caches."""

    config: CitywatchConfig
    database: Database
    health: Callable[[], dict[str, StreamHealth]] | None = None
    detector_stats: Callable[[], dict[str, dict[str, int]]] | None = None
    pipeline_status: Callable[[], dict[str, dict[str, Any]]] | None = None
    mode_holder: ModeHolder | None = None
    latest_frame: Callable[[str], Frame | None] | None = None
    #: Per camera: `worker`, `node`, `host`, `pid`, `status` (assigned, unassigned); see `citywatch.cluster`.
    placement: Callable[[], dict[str, dict[str, Any]]] | None = None
    #: Nodes, workers (cameras, CPU, memory) and unassigned cameras of the running engine.
    cluster: Callable[[], dict[str, Any]] | None = None
    uptime: UptimeTracker | None = None
    #: Why the service is degraded though it answers (a full evidence disk, events held in memory):
    #: each a short sentence; `/healthz` lists them and answers 503 while any is present.
    degraded: Callable[[], list[str]] | None = None
    #: Each camera's live view (fMP4 for browsers), when its reader runs in this process.
    live_video: LiveHub | None = None
    extras: dict[str, Any] = field(default_factory=dict)


async def get_context(request: Request) -> AppContext:
    """The app's context (config, database, live health)."""
    return request.app.state.context


async def get_session(context: Annotated[AppContext, Depends(get_context)]) -> AsyncIterator[Session]:
    """A read session per request (autocommit: no BEGIN/COMMIT round trips; it refuses to write).

    Writes never go through a request-scoped session: FastAPI ends such a dependency after the
    response is sent, so a commit there would be acknowledged before it happened, and would need
    a pool thread of its own (which a handful of requests waiting on a row lock can all hold).
    A write handler opens its transaction itself, in its own thread, and answers after the
    commit: `with context.database.session() as session: ...`. Opening the session takes no I/O
    (it connects at its first query) and closing an autocommit one takes none either."""
    with context.database.read_session() as session:
        yield session


Context = Annotated[AppContext, Depends(get_context)]
DbSession = Annotated[Session, Depends(get_session)]


_bearer = HTTPBearer(auto_error=False, description="A token from `citywatch users add NAME --role ROLE`.")


async def principal_of(context: AppContext, token: str) -> Principal:
    """The holder of `token`; 401 for a bad token. Known tokens are remembered for a few seconds
    (`token_cache`), so most requests cost no lookup; only a lookup goes to the thread pool (it
    queries the database)."""
    cache = token_cache(context.extras)
    principal = cache.cached(token)
    if principal is None:
        principal = await run_in_threadpool(cache.lookup, context.database, token)
    if principal is None:
        raise HTTPException(401, detail="invalid or revoked token", headers={"WWW-Authenticate": "Bearer"})
    return principal


async def current_principal(
    context: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """The caller named by the bearer token; None without one; 401 for a bad token."""
    if credentials is None:
        return None
    return await principal_of(context, credentials.credentials)


def _anonymous_or_401(context: AppContext) -> Principal:
    if context.config.api.anonymous_read:
        return ANONYMOUS
    raise HTTPException(401, detail="a bearer token is required", headers={"WWW-Authenticate": "Bearer"})


def require_role(role: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting callers with `role` or above; it returns the `Principal` (`.name`, `.role`).

    Without a token: reads (`viewer`) pass as the anonymous viewer when `api.anonymous_read` is on;
    everything else is 401. A token whose role is too low is 403.

    Example:
        >>> @router.put("/api/mode")  # doctest: +SKIP
        ... def put_mode(user: Annotated[Principal, Depends(require_role("admin"))]): ...
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    async def dependency(
        context: Context, principal: Annotated[Principal | None, Depends(current_principal)]
    ) -> Principal:
        if principal is None:
            if role == "viewer":
                return _anonymous_or_401(context)
            raise HTTPException(401, detail="a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
        if not principal.has_role(role):
            raise HTTPException(403, detail=f"this needs the {role} role; {principal.name} is {principal.role}")
        return principal

    dependency.__name__ = f"require_{role}"
    return dependency


Viewer = Annotated[Principal, Depends(require_role("viewer"))]
Operator = Annotated[Principal, Depends(require_role("operator"))]
Admin = Annotated[Principal, Depends(require_role("admin"))]


async def query_viewer(
    context: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    token: Annotated[
        str | None, Query(description="A bearer token, for clients that cannot send headers (<img>, EventSource).")
    ] = None,
) -> Principal:
    """A reader named by the `Authorization` header or the `token` query parameter; the anonymous
    viewer when neither is given and `api.anonymous_read` is on; else 401."""
    token = token or (credentials.credentials if credentials is not None else None)
    if not token:
        return _anonymous_or_401(context)
    return await principal_of(context, token)


QueryViewer = Annotated[Principal, Depends(query_viewer)]
