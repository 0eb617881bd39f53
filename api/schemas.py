"""Response and request models of the HTTP API (pydantic), kept apart from the ORM tables."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class EvidenceOut(BaseModel):
    kind: str = Field(description="entry, trigger, ...")
    url: str = Field(description="Where the API serves the image.")


class PlateOut(BaseModel):
    """A vehicle's plate as the stay's readings agreed on it."""

    text: str = Field(examples=["豫D12345"], description="Without the separating dot.")
    color: str | None = Field(examples=["blue"], description="blue, yellow, green, white or black.")
    confidence: float = Field(ge=0.0, le=1.0)


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
    end_reason: str | None = Field(
        None, description="Why the stay ended: left, source_ended (footage or stream ended), rule_idle."
    )
    score: float | None
    box: list[float] | None = Field(description="x1, y1, x2, y2 in pixels of the trigger frame.")
    review_status: str = Field(description="pending, confirmed or rejected (false alarm).")
    review_reason: str | None = Field(None, description="Why it was rejected, when it was.")
    case_id: int | None = Field(None, description="The case this event is evidence of.")
    occurred_at: datetime
    snapshot_url: str
    evidence: list[EvidenceOut]
    plate: PlateOut | None = Field(None, description="The vehicle's plate, on parking rules with `plates: true`.")
    clip_url: str | None = Field(
        None,
        description="The event's MP4 clip (pre_s before the trigger to post_s after it, the camera's own "
        "video copied), with range requests; null until it is written, or when the camera records none.",
        examples=["/api/events/3/clip.mp4"],
    )


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
    analysis: dict[str, Any] | None = Field(
        None,
        description="When the pipeline runs here: mode, active and idle rules, and rule levels such as "
        "the recent wet fraction per zone ([stream_s, fraction] pairs) of waterlogging rules.",
    )
    event_count: int
    worker: str | None = Field(
        None, description="The worker running the camera: `inline`, or its camera group (e.g. `g1`); None when idle."
    )
    node: str | None = Field(
        None, description="The node of that worker (inline: this host; ray: the Ray node id); None while unassigned."
    )


class Health(BaseModel):
    status: str = Field(examples=["ok"])
    database: str
    cameras: dict[str, str] = Field(default_factory=dict, description="Camera id to stream state.")
    problems: list[str] = Field(default_factory=list, description="Why the service is degraded, if it is.")


#: One reference a case step cites: a photo URL (`POST /api/cases/{id}/photos`) or another reference.
Attachment = Annotated[str, Field(min_length=1, max_length=500)]
#: At most this many attachments per step.
MAX_ATTACHMENTS = 20

Status = Literal["new", "registered", "rejected", "dispatched", "handled", "verified", "closed"]
Priority = Literal["low", "normal", "high", "urgent"]


class Problem(BaseModel):
    """An error: what went wrong and, for a refused transition, what is allowed instead."""

    detail: str = Field(examples=["new cannot go to dispatched; allowed: registered, rejected"])
    allowed: list[str] | None = Field(None, examples=[["registered", "rejected"]])


class CaseOut(BaseModel):
    """A case of the ledger: one problem at one place, from intake to close."""

    id: int
    type: str = Field(examples=["illegal_parking"])
    status: Status
    status_label: str = Field(description="The status as the bureau says it.", examples=["立案"])
    priority: Priority
    source: Literal["camera", "hotline"]
    hotline_ticket: str | None = Field(examples=["12345-20261128-0042"])
    camera_id: str | None
    zone_id: str | None
    rule_id: str | None
    location: str = Field(examples=["Campus road junction / kerb"])
    district: str = Field(examples=["新华区"])
    street: str = Field(examples=["光明路街道"])
    description: str
    team: str | None = Field(description="Enforcement team it is dispatched to.", examples=["第一执法中队"])
    deadline: datetime | None = Field(description="Disposal deadline: set on dispatch; a hotline ticket's from intake.")
    deadline_h: float | None = Field(
        None, description="Hours its rule (or the hotline intake) allows: the dispatch default."
    )
    overdue: bool = Field(description="Still being worked past its deadline.")
    reject_reason: str | None
    disposal_note: str | None
    event_count: int = Field(description="Events attached as evidence.")
    last_event_at: datetime | None
    created_at: datetime
    updated_at: datetime
    registered_at: datetime | None
    dispatched_at: datetime | None
    handled_at: datetime | None
    verified_at: datetime | None
    closed_at: datetime | None
    allowed_transitions: list[Status] = Field(description="Statuses this case may move to next.")


class CasePage(BaseModel):
    """A page of cases, newest first (created_at, then id)."""

    items: list[CaseOut]
    total: int
    limit: int
    offset: int
    next: str | None = Field(
        None,
        description="When this page is full: pass it as `after` to get the next page (keyset "
        "pagination: as fast at page 1,000 as at page 1, and stable while new cases arrive).",
        examples=["MjAyNi0xMS0yOFQwMjoyOTo0My4xOTA0NDArMDA6MDB8MTIzNDU"],
    )


class CaseActionOut(BaseModel):
    """One step on a case's record (append-only audit trail)."""

    id: int
    case_id: int
    actor: str = Field(description="User name, or system / system:camera.", examples=["wang.li"])
    at: datetime
    action: Literal["open", "transition", "event"] = Field(
        description="open: the case was opened; transition: its status changed; event: evidence attached."
    )
    from_status: Status | None
    to_status: Status
    note: str | None
    attachments: list[str]
    data: dict[str, Any]


class ExportOut(BaseModel):
    """A camera's recorded range exported to a case (an MP4 by stream copy), oldest first."""

    id: int
    camera_id: str
    start: datetime
    end: datetime
    duration_s: float
    bytes: int
    created_by: str | None
    created_at: datetime | None
    url: str


class CaseDetail(CaseOut):
    """A case with its evidence (events, newest first), its exported recordings and its whole
    audit trail (oldest first)."""

    events: list[EventOut]
    exports: list[ExportOut] = []
    actions: list[CaseActionOut]


class HotlineCaseIn(BaseModel):
    """A 12345 hotline ticket to open as a case (it starts `registered`)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "source": "hotline",
                    "ticket": "12345-20261128-0042",
                    "type": "illegal_parking",
                    "description": "A van has been parked on the double yellow lines since morning.",
                    "location": "光明路 88 号门口",
                    "district": "新华区",
                    "street": "光明路街道",
                    "camera_id": "campus-road",
                }
            ]
        },
    )

    source: Literal["hotline"] = Field(description="Only hotline cases are opened by hand.")
    ticket: str = Field(min_length=1, max_length=64, description="The hotline ticket number.")
    type: str = Field(min_length=1, max_length=40, examples=["illegal_parking"])
    description: str = Field(min_length=1, max_length=4000)
    location: str = Field(min_length=1, max_length=500)
    district: str = Field("", max_length=100)
    street: str = Field("", max_length=100)
    camera_id: str | None = Field(None, max_length=64, description="A camera that watches the place.")
    zone_id: str | None = Field(None, max_length=64)
    priority: Priority = "normal"
    deadline_h: float = Field(
        24.0, gt=0, le=2160, allow_inf_nan=False, description="Hours from dispatch to the deadline."
    )


class TransitionIn(BaseModel):
    """Move a case to its next status. `rejected` and `handled` need a note; `dispatched` a team."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "to": "dispatched",
                    "team": "第一执法中队",
                    "deadline": "2026-11-29T12:00:00+08:00",
                    "note": "请尽快处置",
                },
                {"to": "handled", "note": "车辆已驶离，已教育司机", "attachments": ["photos/after.jpg"]},
                {"to": "rejected", "note": "误报：送货车临时停靠"},
            ]
        },
    )

    to: Status
    note: str | None = Field(None, max_length=4000, description="Reason, disposal note or remark.")
    team: str | None = Field(None, max_length=100, description="Enforcement team (dispatch).")
    deadline: datetime | None = Field(None, description="Disposal deadline (dispatch); default: the rule's.")
    attachments: list[Attachment] = Field(
        default_factory=list,
        max_length=MAX_ATTACHMENTS,
        description="Photo references (URLs or paths, each up to 500 characters) for this step.",
    )


class TransitionOut(BaseModel):
    """The case after the step, and the step as recorded."""

    case: CaseOut
    action: CaseActionOut


class ReviewIn(BaseModel):
    """An operator's verdict on an event: confirm (register or attach a case) or reject (false alarm)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"action": "confirm"}, {"action": "reject", "reason": "行人遮挡误报"}]},
    )

    action: Literal["confirm", "reject"]
    reason: str | None = Field(None, max_length=2000, description="Required to reject.")


class BulkReviewIn(ReviewIn):
    """One verdict on many events (the repeats of one stay or case), each stored on its own."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"ids": [41, 42, 43], "action": "reject", "reason": "误报"}]}
    )

    ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] = Field(
        min_length=1, max_length=200, description="Event ids (at most 200)."
    )


class BulkReviewItem(BaseModel):
    """What became of one event of a bulk review: `status` 200 (stored), 404 or 409 with `detail`."""

    id: int
    status: int
    detail: str | None = None
    case_id: int | None = None
    case_status: str | None = None


class BulkReviewOut(BaseModel):
    """Per event, in the order asked; `reviewed` counts those stored."""

    reviewed: int
    results: list[BulkReviewItem]


class ReviewOut(BaseModel):
    """The reviewed event and the case it now belongs to (none after a reject)."""

    event: EventOut
    case: CaseOut | None


class DayCount(BaseModel):
    """Cases opened on one day (city time zone) of one type, district and current status."""

    day: str = Field(examples=["2026-11-28"])
    type: str
    district: str
    status: Status
    count: int


class OnTime(BaseModel):
    """On-time closure: closed cases with a deadline, and how many were handled by it."""

    closed: int
    on_time: int
    rate: float | None = Field(description="on_time / closed; null when none closed.")


class StatsOut(BaseModel):
    """Case statistics over a time range (by creation time)."""

    since: datetime | None
    until: datetime | None
    total: int
    by_type: dict[str, int]
    by_district: dict[str, int]
    by_status: dict[str, int]
    by_day: list[DayCount]
    overdue: int
    on_time: OnTime
