"""Response and request models of the HTTP API (pydantic), kept apart from the ORM tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class EvidenceOut(BaseModel):
    kind: str = Field(description="entry, trigger, ...")
    url: str = Field(description="Where the API serves the image.")


class EventOut(BaseModel):
    """An event with its evidence."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    uid: str
    type: str = Field(examples=["illegal_parking"])
    camera_id: str
    rule_id: str
    zone_id: str | None
    label: str | None = Field(examples=["truck"])
    track_id: int | None
    first_seen_s: float = Field(description="Stream seconds when the object entered the zone.")
    triggered_s: float = Field(description="Stream seconds when the rule fired.")
    ended_s: float | None = Field(description="Stream seconds when the object left, once it has.")
    duration_s: float | None = Field(description="Total stay, once it has ended.")
    score: float | None
    box: list[float] | None = Field(description="x1, y1, x2, y2 in pixels of the trigger frame.")
    review_status: str
    occurred_at: datetime
    snapshot_url: str
    evidence: list[EvidenceOut]


class EventPage(BaseModel):
    """A page of events, newest first."""

    items: list[EventOut]
    total: int
    limit: int
    offset: int


class CameraOut(BaseModel):
    """A configured camera with its live health when the pipeline runs in this process."""

    id: str
    name: str
    district: str
    street: str
    enabled: bool
    source: str
    analysis_fps: float
    zones: list[dict[str, Any]]
    rules: list[dict[str, Any]]
    health: dict[str, Any] | None = Field(None, description="State, fps, drops, reconnects, last error.")
    event_count: int


class Health(BaseModel):
    status: str = Field(examples=["ok"])
    database: str
    cameras: dict[str, str] = Field(default_factory=dict, description="Camera id to stream state.")
