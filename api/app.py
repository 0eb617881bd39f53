"""The FastAPI application: `create_app` wires the routers to a config and a database, and
`attach_pipeline` connects a pipeline running in the same process (live health, thumbnails,
mode switches that apply at once, new events pushed to the console)."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI

from api import live, middleware
from api.deps import AppContext
from api.errors import install_error_handlers
from api.routes import annotations as annotation_routes
from api.routes import (
    cameras,
    case_photos,
    cases,
    cluster,
    console,
    enforcement,
    events,
    health,
    live_video,
    metrics,
    mode,
    recordings,
    reports,
    sessions,
    stats,
    users,
    vehicles,
)
from api.routes import live as live_routes
from api.routes import map as map_routes
from api.routes import suppressions as suppression_routes
from citywatch import __version__
from citywatch.cluster import Engine, InlineEngine
from citywatch.config import CitywatchConfig
from citywatch.domain.db import Database
from citywatch.publish import Publisher
from citywatch.runtime import Runtime
from citywatch.sink import EventSink
from citywatch.uptime import UptimeTracker


def create_app(config: CitywatchConfig, database: Database, publisher: Publisher | None = None) -> FastAPI:
    """Build the app over `database`. Case transitions are published through `publisher` (shared
    with a pipeline's sink) or, when the config names a broker or webhooks, a publisher of the
    app's own (`app.state.publisher`; stop it on shutdown)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # the thread pool that runs blocking handlers belongs to this event loop: size it per config
        to_thread.current_default_thread_limiter().total_tokens = config.api.threads
        yield

    app = FastAPI(
        lifespan=lifespan,
        title="Citywatch",
        version=__version__,
        summary="Events and cases from the city's cameras.",
        description="Illegal-parking, litter and waterlogging events raised from camera footage, "
        "with photo evidence. Times: `*_s` fields are stream seconds; `occurred_at` is UTC.",
    )
    context = AppContext(config=config, database=database)
    app.state.context = context
    app.state.metrics_registry = metrics.make_registry(context)
    for module in (
        health,
        metrics,
        cameras,
        cluster,
        events,
        cases,
        case_photos,
        enforcement,
        stats,
        users,
        mode,
        console,
        live_routes,
        map_routes,
        live_video,
        recordings,
        vehicles,
        sessions,
        reports,
        annotation_routes,
        suppression_routes,
    ):
        app.include_router(module.router)
    app.include_router(cameras.images)
    install_error_handlers(app)
    _wire_publisher(app, config, database, publisher)
    live.install(app)  # live updates at /api/stream; the console itself is `console.router`
    middleware.install(app)  # outermost: bounded, strict, authenticated bodies; security headers
    return app


def attach_pipeline(app: FastAPI, runtime: Runtime | Engine | None = None, sink: EventSink | None = None) -> None:
    """Connect a pipeline run from this process: `runtime`'s (a `Runtime`, or an engine of
    `citywatch.cluster`) camera health, detector counters, rule status, mode holder (so
    `PUT /api/mode` applies at once), last analysed frames, placement and camera uptime; `sink`'s
    new events pushed to the console as they are stored."""
    context: AppContext = app.state.context
    if sink is not None:
        sink.listeners.append(app.state.broadcaster.publish_event)
        context.degraded = sink.problems  # a failing evidence disk, events held in memory: /healthz says so
    if isinstance(runtime, Runtime):
        runtime = InlineEngine(runtime)
    if isinstance(runtime, InlineEngine):  # live view needs the camera's reader in this process
        context.live_video = runtime.runtime.live
    if runtime is not None:
        context.placement = runtime.placement
        context.cluster = runtime.cluster
        context.health = runtime.health
        context.detector_stats = runtime.detector_stats
        context.pipeline_status = runtime.pipeline_status
        context.mode_holder = runtime.modes
        context.latest_frame = runtime.latest_frame
        context.uptime = UptimeTracker(runtime.health).start()


def _wire_publisher(app: FastAPI, config: CitywatchConfig, database: Database, publisher: Publisher | None) -> None:
    if publisher is None:  # the pipeline's sink (same process) may have subscribed one already
        owners = (getattr(subscriber, "__self__", None) for subscriber in database.subscribers)
        publisher = next((owner for owner in owners if isinstance(owner, Publisher)), None)
    if publisher is None and (config.mqtt.enabled or config.webhooks):
        publisher = Publisher.from_config(config)
    if publisher is not None and publisher.on_commit not in database.subscribers:
        database.subscribers.append(publisher.on_commit)
    app.state.publisher = publisher


def freeze_startup_heap() -> None:
    """For a process that serves the API: take everything loaded at start out of the garbage
    collector's sight (`gc.freeze`) and collect young objects less often.

    A full collection walks every tracked object: ~165,000 after FastAPI, SQLAlchemy, pydantic,
    numpy and OpenCV are imported, about 100 ms on this 2-core machine, during which the worker
    answers nothing; those pauses were the slowest 1 % of API requests under load. Objects created
    at start live as long as the process, so freezing them loses nothing (the pre-fork servers'
    practice). Call it once, after the app is built; tests and libraries never need it.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)
