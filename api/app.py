"""The FastAPI application factory: wires the routers to a database and (optionally) a runtime."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from fastapi import FastAPI

from api.db import Database
from api.deps import AppContext
from api.errors import install_error_handlers
from api.routes import cameras, case_photos, cases, console, events, health, metrics, mode, stats, users
from citywatch import __version__
from citywatch.config import CitywatchConfig


def create_app(
    config: CitywatchConfig,
    database: Database,
    health_source: Callable[[], dict[str, Any]] | None = None,
    detector_source: Callable[[], dict[str, dict[str, int]]] | None = None,
    publisher: Any = None,
) -> FastAPI:
    """Build the app. `health_source` returns live camera health and `detector_source` per-camera
    detector counters when the pipeline runs in this process."""
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
    app.state.context = AppContext(config=config, database=database, health=health_source)
    app.state.metrics_registry = metrics.make_registry(health_source, detector_source)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(cameras.router)
    app.include_router(events.router)
    app.include_router(cases.router)
    app.include_router(case_photos.router)
    app.include_router(stats.router)
    app.include_router(users.router)
    app.include_router(mode.router)
    install_error_handlers(app)
    _wire_publisher(app, config, database, publisher)
    console.install(app)  # the operator console at / and live updates at /api/stream
    return app


def _wire_publisher(app: FastAPI, config: CitywatchConfig, database: Database, publisher: Any) -> None:
    """Publish the API's case transitions: through `publisher` (shared with the pipeline's sink,
    which already subscribes it) or, when none is given and the config names a broker or webhooks,
    a publisher of the app's own (`app.state.publisher`; stop it on shutdown)."""
    if publisher is None:  # the pipeline's sink (same process) may have subscribed one already
        publisher = next((s.__self__ for s in database.subscribers if getattr(s, "__name__", "") == "on_commit"), None)
    if publisher is None and (config.mqtt.enabled or config.webhooks):
        from citywatch.publish import Publisher

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
