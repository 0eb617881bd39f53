"""Live updates: `GET /api/stream` (server-sent events), its one-use tickets and its counters.

Messages are `{kind, data, at}` with kind `hello`, `event` (a new event), `case` (a committed
case change), `change` (a change made through the API or seen in the database) or `cameras`
(camera id to health, every `status_every_s`). See `api.live` for where they come from.

An open stream re-checks its holder's token every `RECHECK_S` seconds and ends when the token is
revoked (through this app: at the next check; by another process: within the token cache's TTL).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from api.deps import AppContext, Context, Viewer, principal_of, query_viewer
from api.live import Broadcaster, StreamTickets
from vision.streams import health_snapshot

router = APIRouter(tags=["live"])
log = logging.getLogger(__name__)

#: Seconds between two checks that an open stream's token is still valid.
RECHECK_S = 2.0


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


@router.post("/api/stream/ticket", summary="A one-use ticket for the live stream")
def stream_ticket(request: Request, user: Viewer) -> dict[str, Any]:
    """Trade the bearer token for a ticket to open `GET /api/stream?ticket=...` within a minute."""
    tickets: StreamTickets = request.app.state.stream_tickets
    return {"ticket": tickets.issue(None if user.anonymous else _bearer(request)), "expires_in_s": tickets.ttl_s}


def _camera_status(context: AppContext) -> dict[str, Any]:
    if not context.health:
        return {}
    return {camera_id: health_snapshot(health) for camera_id, health in context.health().items()}


def _sse(message: dict[str, Any]) -> str:
    return f"event: {message['kind']}\ndata: {json.dumps(message, ensure_ascii=False, default=str)}\n\n"


async def _admit(request: Request, context: AppContext, token: str | None, ticket: str | None) -> str | None:
    """A stream ticket, a valid token (query or header), or nobody when anonymous reads are on;
    else 401. Answers the token to keep checking while the stream is open (None: anonymous)."""
    if ticket is None:
        token = token or _bearer(request)
        await query_viewer(context, None, token)
        return token
    admitted, holder = request.app.state.stream_tickets.take(ticket)
    if not admitted:
        raise HTTPException(401, detail="unknown or expired stream ticket")
    return holder


async def still_allowed(context: AppContext, token: str | None) -> bool:
    """False once the stream's token is revoked (or its user disabled); True while the database
    cannot say (the stream, or the live video, stays until it can). Shared by `live_video`."""
    if token is None:
        return True
    try:
        await principal_of(context, token)
    except HTTPException:
        return False
    except Exception:  # the database is down: keep the stream, check again later
        log.warning("live stream: could not re-check the token", exc_info=True)
    return True


@router.get(
    "/api/stream",
    summary="Live updates (server-sent events)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream(
    request: Request,
    context: Context,
    status_every_s: Annotated[float, Query(ge=0.5, le=60, description="Camera status interval.")] = 3.0,
    ticket: Annotated[str | None, Query(description="From `POST /api/stream/ticket` (no headers needed).")] = None,
    token: Annotated[str | None, Query(description="A bearer token, for clients without tickets.")] = None,
) -> StreamingResponse:
    """A `text/event-stream` of messages `{kind, data, at}` with kind `hello`, `event` (a new
    event: id, type, camera, box ...), `change` (an API change: method, path) or `cameras`
    (camera id to health). Browsers use `EventSource('/api/stream')`."""
    holder = await _admit(request, context, token, ticket)
    broadcaster: Broadcaster = request.app.state.broadcaster
    subscriber = broadcaster.subscribe()
    request.app.state.database_watcher.ensure_running()

    async def messages() -> AsyncIterator[str]:
        try:
            yield "retry: 2000\n\n"
            yield _sse({"kind": "hello", "data": broadcaster.stats(), "at": round(time.time(), 3)})
            next_status, next_check = 0.0, time.monotonic() + RECHECK_S
            while not await request.is_disconnected():
                now = time.monotonic()
                if now >= next_check:
                    next_check = now + RECHECK_S
                    if not await still_allowed(context, holder):
                        return  # revoked: end the stream (the browser's reconnect then gets a 401)
                if now >= next_status:
                    next_status = now + status_every_s
                    status = {"kind": "cameras", "data": _camera_status(context), "at": round(time.time(), 3)}
                    yield _sse(status)
                try:
                    message = await asyncio.wait_for(subscriber.queue.get(), timeout=min(1.0, status_every_s))
                except TimeoutError:
                    continue
                yield _sse(message)
        finally:
            broadcaster.unsubscribe(subscriber)

    return StreamingResponse(
        messages(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


@router.get("/api/stream/stats", summary="Live-update counters")
def stream_stats(request: Request, user: Viewer) -> dict[str, int]:
    """Connected clients, messages published and messages dropped for slow clients."""
    return request.app.state.broadcaster.stats()
