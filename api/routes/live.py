"""Live updates for the console: `GET /api/stream` (server-sent events) and camera thumbnails.

A `Broadcaster` held on `app.state.broadcaster` fans messages out to every connected browser:
new events (fed from `EventSink.listeners`), changes made through the API (any successful
POST/PUT/PATCH/DELETE under /api/, seen by `ChangeNotifier`) and camera status every few seconds.
Each client has a bounded queue; when a slow client's queue is full the message is dropped and
counted, so one stuck browser never holds up the pipeline.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.responses import Response, StreamingResponse

from api.auth import authenticate
from api.deps import Context, Viewer

router = APIRouter(tags=["live"])
log = logging.getLogger(__name__)

#: Payload keys of a stored event that are safe and useful to push (no file paths).
EVENT_KEYS = (
    "id",
    "uid",
    "type",
    "camera_id",
    "rule_id",
    "zone_id",
    "label",
    "first_seen_s",
    "triggered_s",
    "dwell_s",
    "score",
    "box",
    "occurred_at",
)
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(eq=False)
class Subscriber:
    """One connected client: its bounded queue on the server's event loop."""

    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[dict[str, Any]]
    dropped: int = 0


@dataclass
class Broadcaster:
    """Fans messages out to subscribers; `publish` may be called from any thread.

    Example:
        >>> broadcaster = Broadcaster(queue_size=2)
        >>> broadcaster.publish("change", {"path": "/api/mode"})  # no subscriber: nothing to do
        >>> broadcaster.stats()["published"]
        1
    """

    queue_size: int = 200
    published: int = 0
    dropped: int = 0
    _subscribers: set[Subscriber] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def subscribe(self) -> Subscriber:
        """Register a client; call from the event loop that will read its queue."""
        subscriber = Subscriber(asyncio.get_running_loop(), asyncio.Queue(maxsize=self.queue_size))
        with self._lock:
            self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(subscriber)

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        """Queue `{"kind": kind, "data": data, "at": epoch s}` for every client (thread-safe)."""
        message = {"kind": kind, "data": data, "at": round(time.time(), 3)}
        with self._lock:
            self.published += 1
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber.loop.call_soon_threadsafe(self._offer, subscriber, message)
            except RuntimeError:  # its loop is closed: the client is gone
                self.unsubscribe(subscriber)

    def publish_event(self, payload: dict[str, Any]) -> None:
        """An `EventSink` listener: push a newly stored event (without file paths)."""
        self.publish("event", {key: payload.get(key) for key in EVENT_KEYS})

    def publish_committed(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        """A `Database` subscriber: push the ledger's committed changes (`case`, `event`)."""
        for kind, data in messages:
            if kind == "case":
                self.publish("case", {"case": data.get("case"), "action": data.get("action")})
            elif kind == "event":
                self.publish("event", {key: data.get(key) for key in EVENT_KEYS if key in data})

    def _offer(self, subscriber: Subscriber, message: dict[str, Any]) -> None:
        try:
            subscriber.queue.put_nowait(message)
        except asyncio.QueueFull:
            subscriber.dropped += 1
            with self._lock:
                self.dropped += 1

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"clients": len(self._subscribers), "published": self.published, "dropped": self.dropped}


class ChangeNotifier:
    """ASGI middleware: after a successful mutating request under /api/, publish a `change`
    message (method, path, status) so every console refreshes what it shows."""

    def __init__(self, app: Any, broadcaster: Broadcaster):
        self.app = app
        self.broadcaster = broadcaster

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or scope["method"] not in MUTATING or not path.startswith("/api/") \
                or path.startswith("/api/stream"):
            await self.app(scope, receive, send)
            return
        status = {"code": 0}

        async def watch(message: dict) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        await self.app(scope, receive, watch)
        if 200 <= status["code"] < 300:
            self.broadcaster.publish(
                "change", {"method": scope["method"], "path": scope["path"], "status": status["code"]}
            )


class UptimeTracker:
    """Samples camera health every `every_s` seconds and keeps, per camera, the seconds observed
    and the seconds it was online (receiving frames), for the console's uptime chart."""

    ONLINE = frozenset({"online", "running", "ended"})

    def __init__(self, health: Callable[[], dict[str, Any]], every_s: float = 5.0):
        self.health, self.every_s = health, every_s
        self.observed: dict[str, float] = {}
        self.online: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="uptime-tracker", daemon=True)

    def start(self) -> UptimeTracker:
        self.sample(0.0)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def sample(self, elapsed_s: float) -> None:
        """Credit `elapsed_s` to every camera, and to its online time when it is online now."""
        for camera_id, health in self.health().items():
            self.observed[camera_id] = self.observed.get(camera_id, 0.0) + elapsed_s
            online = getattr(health, "state", None) in self.ONLINE
            self.online[camera_id] = self.online.get(camera_id, 0.0) + (elapsed_s if online else 0.0)

    def snapshot(self) -> dict[str, dict[str, float | None]]:
        return {
            camera_id: {
                "observed_s": round(observed, 1),
                "online_s": round(self.online.get(camera_id, 0.0), 1),
                "uptime": round(self.online.get(camera_id, 0.0) / observed, 4) if observed else None,
            }
            for camera_id, observed in self.observed.items()
        }

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(self.every_s):
            now = time.monotonic()
            self.sample(now - last)
            last = now


class DatabaseWatcher:
    """Polls the database while browsers are connected, so changes made by another process (a
    pipeline beside `citywatch serve`, another API worker, the CLI) reach them too: new events,
    case updates and mode switches. Duplicates of in-process pushes are harmless (the console
    de-duplicates by id and refetches on `change`)."""

    def __init__(self, database: Any, broadcaster: Broadcaster, every_s: float = 2.0):
        self.database, self.broadcaster, self.every_s = database, broadcaster, every_s
        self.marks: dict[str, Any] | None = None
        self._task: asyncio.Task | None = None

    def ensure_running(self) -> None:
        """Start polling on the running loop unless it already does."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        self.marks = None
        while self.broadcaster.stats()["clients"]:
            try:
                await asyncio.to_thread(self.poll)
            except Exception:  # a database hiccup must not end the live stream
                log.warning("live database watcher: poll failed", exc_info=True)
            await asyncio.sleep(self.every_s)

    def poll(self) -> None:
        """Publish what changed since the last poll (the first poll only takes the marks)."""
        from sqlalchemy import func, select

        from api.models import Case, Event, ModeChange

        with self.database.session() as session:
            marks = {
                "event": session.scalar(select(func.max(Event.id))) or 0,
                "case": session.scalar(select(func.max(Case.updated_at))),
                "mode": session.scalar(select(func.max(ModeChange.id))) or 0,
            }
            if self.marks is None:
                self.marks = marks
                return
            if marks["event"] > self.marks["event"]:
                newer = select(Event).where(Event.id > self.marks["event"]).order_by(Event.id).limit(200)
                for row in session.scalars(newer):
                    self.broadcaster.publish_event({key: getattr(row, key, None) for key in EVENT_KEYS})
        if marks["case"] != self.marks["case"]:
            self.broadcaster.publish("change", {"method": "DB", "path": "/api/cases", "status": 200})
        if marks["mode"] != self.marks["mode"]:
            self.broadcaster.publish("change", {"method": "DB", "path": "/api/mode", "status": 200})
        self.marks = marks


def install(app: FastAPI, queue_size: int = 200) -> Broadcaster:
    """Add the live routes, a broadcaster on `app.state` and the change notifier to an app."""
    broadcaster = Broadcaster(queue_size=queue_size)
    app.state.broadcaster = broadcaster
    app.state.latest_frame = None
    app.state.uptime = None
    app.state.stream_tickets = StreamTickets()
    app.add_middleware(ChangeNotifier, broadcaster=broadcaster)
    app.state.database_watcher = DatabaseWatcher(app.state.context.database, broadcaster)
    subscribers = getattr(app.state.context.database, "subscribers", None)
    if subscribers is not None:  # the ledger's committed changes (cases, events)
        subscribers.append(broadcaster.publish_committed)
    app.include_router(router)
    return broadcaster


def attach(app: FastAPI, sink: Any = None, runtime: Any = None) -> None:
    """Connect a running pipeline: new events from `sink` go live, and the last analysed frame of
    each of `runtime`'s cameras becomes its thumbnail."""
    broadcaster: Broadcaster = app.state.broadcaster
    if sink is not None:
        sink.listeners.append(broadcaster.publish_event)
    if runtime is not None:

        def latest_frame(camera_id: str) -> Any:
            worker = runtime.workers.get(camera_id)
            return getattr(worker, "last_frame", None) if worker is not None else None

        app.state.latest_frame = latest_frame
        app.state.uptime = UptimeTracker(runtime.health).start()


class StreamTickets:
    """One-use tickets for `EventSource`, which cannot send an Authorization header: the console
    trades its bearer token for a ticket (`POST /api/stream/ticket`) and puts only the ticket in
    the stream's URL, so no token ends up in access logs."""

    def __init__(self, ttl_s: float = 60.0):
        self.ttl_s = ttl_s
        self._tickets: dict[str, float] = {}
        self._lock = threading.Lock()

    def issue(self) -> str:
        ticket = secrets.token_urlsafe(24)
        now = time.monotonic()
        with self._lock:
            self._tickets = {t: expiry for t, expiry in self._tickets.items() if expiry > now}
            self._tickets[ticket] = now + self.ttl_s
        return ticket

    def redeem(self, ticket: str) -> bool:
        """True (once) for a ticket issued less than `ttl_s` ago."""
        with self._lock:
            expiry = self._tickets.pop(ticket, None)
        return expiry is not None and expiry > time.monotonic()


def check_viewer(request: Request, context: Context, token: str | None = None, ticket: str | None = None) -> None:
    """Admit a reader: a stream ticket, a valid token (query parameter or Authorization header),
    or nobody when the API allows anonymous reads; else 401."""
    if ticket is not None:
        if request.app.state.stream_tickets.redeem(ticket):
            return
        raise HTTPException(401, detail="unknown or expired stream ticket")
    header = request.headers.get("authorization", "")
    token = token or (header[7:].strip() if header.lower().startswith("bearer ") else None)
    if not token:
        if context.config.api.anonymous_read:
            return
        raise HTTPException(401, detail="a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    with context.database.session() as session:
        principal = authenticate(session, token)
    if principal is None:
        raise HTTPException(401, detail="invalid or revoked token", headers={"WWW-Authenticate": "Bearer"})


@router.post("/api/stream/ticket", summary="A one-use ticket for the live stream")
def stream_ticket(request: Request, user: Viewer) -> dict[str, Any]:
    """Trade the bearer token for a ticket to open `GET /api/stream?ticket=...` within a minute."""
    tickets: StreamTickets = request.app.state.stream_tickets
    return {"ticket": tickets.issue(), "expires_in_s": tickets.ttl_s}


def _camera_status(context: Context) -> dict[str, Any]:
    if not context.health:
        return {}
    from vision.streams import health_snapshot

    return {camera_id: health_snapshot(health) for camera_id, health in context.health().items()}


def _sse(message: dict[str, Any]) -> str:
    return f"event: {message['kind']}\ndata: {json.dumps(message, ensure_ascii=False, default=str)}\n\n"


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
    check_viewer(request, context, token, ticket)
    broadcaster: Broadcaster = request.app.state.broadcaster
    subscriber = broadcaster.subscribe()
    request.app.state.database_watcher.ensure_running()

    async def messages() -> AsyncIterator[str]:
        try:
            yield "retry: 2000\n\n"
            yield _sse({"kind": "hello", "data": broadcaster.stats(), "at": round(time.time(), 3)})
            next_status = 0.0
            while not await request.is_disconnected():
                now = time.monotonic()
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
def stream_stats(request: Request) -> dict[str, int]:
    """Connected clients, messages published and messages dropped for slow clients."""
    return request.app.state.broadcaster.stats()


@router.get("/api/console/uptime", summary="Camera uptime since this process started")
def uptime(request: Request, context: Context, token: Annotated[str | None, Query()] = None) -> dict[str, Any]:
    """Per camera: seconds observed, seconds online, and their ratio (null before any sample)."""
    check_viewer(request, context, token)
    tracker: UptimeTracker | None = request.app.state.uptime
    return {"cameras": tracker.snapshot() if tracker is not None else {}}


@router.get(
    "/api/cameras/{camera_id}/latest.jpg",
    summary="The camera's last analysed frame",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, 404: {}},
)
def latest_jpg(
    camera_id: str,
    request: Request,
    context: Context,
    width: Annotated[int | None, Query(ge=32, le=4096, description="Scale to this width.")] = None,
    token: Annotated[str | None, Query(description="Bearer token, for plain <img> tags.")] = None,
) -> Response:
    """JPEG of the last frame the pipeline analysed for this camera (404 before the first one)."""
    check_viewer(request, context, token)
    try:
        context.config.camera(camera_id)
    except KeyError:
        raise HTTPException(404, detail=f"camera {camera_id!r} not found") from None
    source = request.app.state.latest_frame
    frame = source(camera_id) if source is not None else None
    if frame is None:
        raise HTTPException(404, detail=f"no analysed frame yet for camera {camera_id!r}")
    import cv2

    from vision.evidence import encode_jpeg

    image = frame.image
    if width and width < image.shape[1]:
        image = cv2.resize(image, (width, round(image.shape[0] * width / image.shape[1])), interpolation=cv2.INTER_AREA)
    return Response(
        encode_jpeg(image, quality=80),
        media_type="image/jpeg",
        headers={"Cache-Control": "no-store", "X-Stream-Seconds": f"{frame.stream_s:.3f}"},
    )
