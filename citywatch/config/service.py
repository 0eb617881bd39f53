"""The `api:` section: where the HTTP service listens, who may read, and its request threads."""

from __future__ import annotations

from pydantic import Field

from citywatch.config.base import ConfigModel


class ApiConfig(ConfigModel):
    """The HTTP service."""

    host: str = Field("127.0.0.1", title="Host", description="Address the API listens on.")
    port: int = Field(8080, ge=1, le=65535, title="Port", description="TCP port of the API.")
    anonymous_read: bool = Field(
        False,
        title="Anonymous read",
        description="Let requests without a token read (viewer role): cameras, events, cases, statistics, "
        "the API docs and metrics; writes always need a token. Off unless the config turns it on (the "
        "demo does); keep it off where the API is reachable beyond the bureau's network.",
    )
    session_hours: float = Field(
        12.0,
        gt=0.0,
        le=24.0 * 30,
        title="Session length (h)",
        description="How long a username sign-in lasts (a shift and its handover); API tokens do not expire.",
    )
    threads: int = Field(
        4,
        ge=1,
        le=256,
        title="Request threads",
        description="Requests each API worker process runs at once in its thread pool (database work). "
        "Fewer threads contend less for Python's GIL, which keeps the slowest requests fast on small "
        "machines; more let a few slow requests (a big CSV export) block less. Further requests queue.",
    )
    live_viewers: int = Field(
        32,
        ge=0,
        le=1024,
        title="Live viewers per process",
        description="Live-view sockets (`/api/cameras/{id}/live`) open at once in this process, all cameras "
        "together; each costs a remux of its camera's packets while watched. 0 turns live view off.",
    )
    live_viewers_per_camera: int = Field(
        8,
        ge=1,
        le=256,
        title="Live viewers per camera",
        description="Live-view sockets open at once on one camera; a further one is closed with a reason.",
    )
