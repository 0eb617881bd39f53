"""ORM tables: cameras, zones, the events they raise, the case ledger and its audit trail, users.

An event row is the evidence of one rule outcome: what, where, when in stream time and wall time,
the box, and the paths of its photo evidence, which are written before the row is committed.
A case is the unit the bureau works in (立案 → 派遣 → 处置 → 核查 → 结案); every step appends a
`CaseAction`. The schema is created and migrated by Alembic (`citywatch/domain/migrations`), never `create_all`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Float, ForeignKey, Index, Integer, String, Text, TypeDecorator, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of every Citywatch table."""


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        if value is not None and dialect.name == "sqlite":
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None or value.tzinfo is UTC:  # PostgreSQL sessions run in UTC (see `db`)
            return value
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Camera(Base):
    """A configured camera, synchronised from the config file at start."""

    __tablename__ = "cameras"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    district: Mapped[str] = mapped_column(String(100), default="", index=True)
    street: Mapped[str] = mapped_column(String(100), default="", index=True)
    source: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class Event(Base):
    """One rule outcome with its evidence."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_camera_time", "camera_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    type: Mapped[str] = mapped_column(String(40), index=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id"), index=True)
    rule_id: Mapped[str] = mapped_column(String(64))
    zone_id: Mapped[str | None] = mapped_column(String(64))
    label: Mapped[str | None] = mapped_column(String(40))
    track_id: Mapped[int | None] = mapped_column(Integer)
    first_seen_s: Mapped[float] = mapped_column(Float)
    triggered_s: Mapped[float] = mapped_column(Float)
    ended_s: Mapped[float | None] = mapped_column(Float)
    duration_s: Mapped[float | None] = mapped_column(Float)
    #: Why the stay ended: left, source_ended, rule_idle (`citywatch.events.EventEnd.reason`).
    end_reason: Mapped[str | None] = mapped_column(String(20))
    score: Mapped[float | None] = mapped_column(Float)
    box: Mapped[list[float] | None] = mapped_column(JSON)
    snapshot_path: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    #: The event's MP4 clip, relative to `storage.recordings_dir`; set once the file is durable.
    clip: Mapped[str | None] = mapped_column(Text)
    #: The vehicle's plate (`{"text", "color", "confidence"}`), and its text to look vehicles up by.
    plate: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    plate_text: Mapped[str | None] = mapped_column(String(16), index=True)
    review_status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    review_reason: Mapped[str | None] = mapped_column(Text)
    reviewed_by: Mapped[str | None] = mapped_column(String(64))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Vehicle(Base):
    """A vehicle known by its plate: when it was first and last seen breaking a rule, and how
    often (its events and cases are those whose `plate_text` is this plate)."""

    __tablename__ = "vehicles"

    plate: Mapped[str] = mapped_column(String(16), primary_key=True)
    color: Mapped[str | None] = mapped_column(String(10))
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    event_count: Mapped[int] = mapped_column(Integer, default=0)


class Owner(Base):
    """A vehicle's registered owner as the bureau enters it (车主信息): the phone number is shown in
    full only through an audited lookup on a case (`citywatch.domain.enforcement.lookup_owner`)."""

    __tablename__ = "owners"

    plate: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class Zone(Base):
    """A configured zone of a camera, synchronised from the config file at start."""

    __tablename__ = "zones"

    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    polygon: Mapped[list[list[float]]] = mapped_column(JSON, default=list)


#: The rows `uq_cases_open_place` covers: camera cases still being worked (see `workflow`).
#: The statuses with a deadline (`workflow.DEADLINE_STATUSES`), as SQL for a partial index.
WORKING_CASE = "status IN ('registered', 'dispatched', 'handled')"
OPEN_CAMERA_CASE = "source = 'camera' AND status NOT IN ('closed', 'rejected') AND zone_id IS NOT NULL"


class Case(Base):
    """A case of the ledger: one problem at one place, from intake to close."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_created", "created_at", "id"),
        Index("ix_cases_open_key", "camera_id", "zone_id", "type", "status"),
        Index("ix_cases_status_deadline", "status", "deadline"),
        Index("ix_cases_district_created", "district", "created_at", "id"),
        Index("ix_cases_status_created", "status", "created_at", "id"),
        Index("ix_cases_district_status_created", "district", "status", "created_at", "id"),
        # newest-first over the cases still being worked: the overdue queue (migration 0006)
        Index(
            "ix_cases_working_created",
            "created_at",
            "id",
            sqlite_where=text(WORKING_CASE),
            postgresql_where=text(WORKING_CASE),
        ),
        # At most one open camera case per camera, zone and type, whatever the number of writers.
        Index(
            "uq_cases_open_place",
            "camera_id",
            "zone_id",
            "type",
            unique=True,
            sqlite_where=text(OPEN_CAMERA_CASE),
            postgresql_where=text(OPEN_CAMERA_CASE),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    source: Mapped[str] = mapped_column(String(10), default="camera")
    hotline_ticket: Mapped[str | None] = mapped_column(String(64), unique=True)
    camera_id: Mapped[str | None] = mapped_column(ForeignKey("cameras.id"), index=True)
    zone_id: Mapped[str | None] = mapped_column(String(64))
    rule_id: Mapped[str | None] = mapped_column(String(64))
    location: Mapped[str] = mapped_column(Text, default="")
    district: Mapped[str] = mapped_column(String(100), default="", index=True)
    street: Mapped[str] = mapped_column(String(100), default="", index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    team: Mapped[str | None] = mapped_column(String(100))
    deadline: Mapped[datetime | None] = mapped_column(UtcDateTime())
    deadline_h: Mapped[float] = mapped_column(Float, default=24.0)
    reject_reason: Mapped[str | None] = mapped_column(Text)
    disposal_note: Mapped[str | None] = mapped_column(Text)
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    last_event_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    registered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    dispatched_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    handled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class CaseAction(Base):
    """One step on a case's record; append-only (never updated or deleted)."""

    __tablename__ = "case_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    action: Mapped[str] = mapped_column(String(20), default="transition")
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[list[str]] = mapped_column(JSON, default=list)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class User(Base):
    """Someone (or some system) that calls the API, with one role: viewer, operator or admin."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(10))
    disabled: Mapped[bool] = mapped_column(default=False)
    #: argon2id hash of the user's password (username sign-in); None: tokens only.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class ApiToken(Base):
    """A bearer token of a user, stored as the SHA-256 of the token (never the token itself)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    #: When a sign-in session's token stops working; None: an API token, until revoked.
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked: Mapped[bool] = mapped_column(default=False)


class ModeChange(Base):
    """One switch of the operating mode (normal, flood, ...): what, from what, who and when.

    The newest row is the current mode, so it survives a restart (see `citywatch.modes`).
    """

    __tablename__ = "mode_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mode: Mapped[str] = mapped_column(String(64))
    previous: Mapped[str | None] = mapped_column(String(64))
    changed_by: Mapped[str] = mapped_column(String(64))
    via: Mapped[str] = mapped_column(String(10), default="api")  # api, cli
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)


class Heartbeat(Base):
    """One row per probe name, rewritten by `Database.write_probe`: proof that the database still
    takes writes (a read passes on a full disk, a read-only database or a held lock)."""

    __tablename__ = "heartbeats"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    beat_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Recording(Base):
    """One recorded file of the recordings directory the API can serve: a continuous segment of a
    camera (`kind` `segment`, written by `vision.record.segments`) or a range exported to a case
    (`export`, `citywatch.recordings.exports`). `path` is relative to `storage.recordings_dir`; the
    row is written only once the file is durable. Event clips stay on their event (`Event.clip`)."""

    __tablename__ = "recordings"
    __table_args__ = (Index("ix_recordings_camera_start", "camera_id", "start_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id"))
    kind: Mapped[str] = mapped_column(String(10))  # segment, export
    path: Mapped[str] = mapped_column(Text, unique=True)
    start_at: Mapped[datetime] = mapped_column(UtcDateTime())
    end_at: Mapped[datetime] = mapped_column(UtcDateTime())
    duration_s: Mapped[float] = mapped_column(Float)
    bytes: Mapped[int] = mapped_column(BigInteger)
    codec: Mapped[str | None] = mapped_column(String(40))
    #: Whether the analysis saw anything move or any watched object in it (None: not analysed).
    motion: Mapped[bool | None] = mapped_column()
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)  # exports
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Annotation(Base):
    """An operator's boxes on one frame (标注), for training: `image_path` is relative to
    `storage.evidence_dir` and written before the row; `boxes` are `{"label", "box": [x1, y1, x2, y2]}`
    normalised 0..1. A deleted annotation keeps its row (`deleted_by`, `deleted_at`) for the audit trail."""

    __tablename__ = "annotations"
    __table_args__ = (Index("ix_annotations_taken", "taken_at", "id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id"), index=True)
    #: Stream seconds of the frame (the event's trigger, or the camera frame's `stream_s`).
    stream_ts: Mapped[float] = mapped_column(Float)
    taken_at: Mapped[datetime] = mapped_column(UtcDateTime())
    image_path: Mapped[str] = mapped_column(Text)
    boxes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"), index=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    deleted_by: Mapped[str | None] = mapped_column(String(64))
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Suppression(Base):
    """A place of one camera where a label no longer alerts, learnt from rejected alerts
    (`citywatch.domain.suppression`): `region` is a normalised box [x1, y1, x2, y2]; an event of that
    camera, label (and rule) whose box centre falls in it (under `min_confidence`, when set) is stored
    `suppressed`. `status`: proposed, active or revoked; `history` lists every decision (who, when)."""

    __tablename__ = "suppressions"
    __table_args__ = (Index("ix_suppressions_camera_status", "camera_id", "status"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id"))
    rule_id: Mapped[str | None] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(40))
    region: Mapped[list[float]] = mapped_column(JSON)
    min_confidence: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="proposed", index=True)
    event_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
