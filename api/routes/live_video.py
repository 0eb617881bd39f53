"""Live video: `WS /api/cameras/{camera_id}/live?ticket=...` (fragmented MP4 for Media Source
Extensions, no transcoding) and `GET /api/live-video/stats` (viewers, drops per camera).

The socket takes a one-use ticket from `POST /api/stream/ticket` (any role that reads: a token
never sits in a URL). Messages: JSON `session` (codec, `mime` for `MediaSource.isTypeSupported`,
width, height, `media_zero_s`: the stream time at media time 0), then the binary init segment,
then binary fragments from the newest keyframe on; a new `session` + init after a reconnect of
the camera; JSON `clock` (`newest_s`: the newest packet's stream time) about once a second.
Closing codes: 4401 ticket, 4403 token revoked, 4404 camera unknown or not read by this process,
4415 codec not playable in a browser, 4429 too many viewers. Live view needs the camera's reader in
the API's process (`citywatch run` with the inline engine); camera groups in worker processes
(Ray) have none.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from api.auth_responses import AUTH_RESPONSES
from api.deps import AppContext, Context, Viewer
from api.routes.live import still_allowed
from vision.record.live import LiveHub, LiveRefused
from vision.record.live_viewer import LiveViewer

router = APIRouter(tags=["live"], responses=AUTH_RESPONSES)

#: Seconds between two checks that a socket's token is still valid, and between two clock messages.
RECHECK_S = 2.0
CLOCK_S = 1.0
_LIMIT_CODES = {"not_running": 4404, "camera_limit": 4429, "process_limit": 4429}


async def _refuse(websocket: WebSocket, code: int, detail: str, **extra: Any) -> None:
    await websocket.send_json({"kind": "error", "code": code, "detail": detail, **extra})
    await websocket.close(code=code, reason=detail[:120])


@router.websocket("/api/cameras/{camera_id}/live")
async def live_video(websocket: WebSocket, camera_id: str, ticket: str | None = None) -> None:
    """A camera's live fMP4 (see the module's docstring for the messages and closing codes)."""
    await websocket.accept()
    context: AppContext = websocket.app.state.context
    admitted, holder = websocket.app.state.stream_tickets.take(ticket) if ticket else (False, None)
    if not admitted:
        await _refuse(websocket, 4401, "a one-use ticket from POST /api/stream/ticket is required")
        return
    if camera_id not in {camera.id for camera in context.config.cameras}:
        await _refuse(websocket, 4404, f"unknown camera {camera_id}")
        return
    hub: LiveHub | None = context.live_video
    if hub is None or not hub.has(camera_id):
        await _refuse(websocket, 4404, "live view needs the camera's reader in the API's process")
        return
    try:
        viewer = hub.join(camera_id)
    except LiveRefused as refused:
        await _refuse(websocket, _LIMIT_CODES[refused.code], refused.detail, reason=refused.code)
        return
    try:
        await _pump(websocket, context, hub, viewer, holder)
    finally:
        hub.leave(viewer)


async def _pump(
    websocket: WebSocket, context: AppContext, hub: LiveHub, viewer: LiveViewer, holder: str | None
) -> None:
    """Send the viewer's messages as they come; end when the client leaves or may no longer watch."""
    loop = asyncio.get_running_loop()
    arrived = asyncio.Event()

    def wake() -> None:
        loop.call_soon_threadsafe(arrived.set)

    viewer.notify = wake
    left = asyncio.create_task(_until_closed(websocket))
    live = hub.camera(viewer.camera_id)
    next_check = next_clock = time.monotonic()
    try:
        while not left.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(arrived.wait(), timeout=CLOCK_S / 2)
            arrived.clear()
            for message in viewer.take():
                if isinstance(message, bytes):
                    await websocket.send_bytes(message)
                    continue
                await websocket.send_json(message)
                if message.get("playable") is False:
                    await websocket.close(code=4415, reason="not playable in a browser without transcoding")
                    return
            now = time.monotonic()
            if now >= next_clock and viewer.started and live.newest_s is not None:
                next_clock = now + CLOCK_S
                await websocket.send_json({"kind": "clock", "newest_s": live.newest_s, "drops": viewer.drops})
            if now >= next_check:
                next_check = now + RECHECK_S
                if not await still_allowed(context, holder):
                    await websocket.close(code=4403, reason="token revoked")
                    return
    except (WebSocketDisconnect, RuntimeError):  # the client went away mid-send
        return
    finally:
        left.cancel()


async def _until_closed(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return


@router.get("/api/live-video/stats", summary="Live-view counters per camera")
def live_video_stats(context: Context, user: Viewer) -> dict[str, Any]:
    """Per camera read by this process: open viewers, fragments dropped for slow viewers, fragments
    made, the newest packet's stream time, the codec and whether a browser can play it."""
    hub = context.live_video
    return {"cameras": hub.stats() if hub is not None else {}, "in_process": hub is not None}
