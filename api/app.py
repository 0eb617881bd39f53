"""The FastAPI application factory: wires the routers to a database and (optionally) a runtime."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from api.db import Database
from api.deps import AppContext
from api.routes import cameras, console, events, health
from citywatch import __version__
from citywatch.config import CitywatchConfig


def create_app(config: CitywatchConfig, database: Database, health_source: Callable[[], dict[str, Any]] | None = None) -> FastAPI:
    """Build the app. `health_source` returns live camera health when the pipeline runs in-process."""
    app = FastAPI(
        title="Citywatch",
        version=__version__,
        summary="Events and cases from the city's cameras.",
        description="Illegal-parking, litter and waterlogging events raised from camera footage, "
        "with photo evidence. Times: `*_s` fields are stream seconds; `occurred_at` is UTC.",
    )
    app.state.context = AppContext(config=config, database=database, health=health_source)
    app.include_router(health.router)
    app.include_router(cameras.router)
    app.include_router(events.router)
    console.install(app)  # the operator console at / and live updates at /api/stream
    return app
