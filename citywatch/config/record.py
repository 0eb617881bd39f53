"""A camera's `record:` section: event clips (an MP4 per event, packets copied, never re-encoded)
continuous recording in fixed-length segments, and how long each kind is kept."""

from __future__ import annotations

from pydantic import Field

from citywatch.config.base import ConfigModel


class RetainConfig(ConfigModel):
    """How long recordings are kept, per kind (the retention pass of `citywatch.recordings.retention`)."""

    clips_days: float = Field(
        30.0,
        gt=0.0,
        le=3650.0,
        title="Keep clips (days)",
        description="Days an event clip is kept (unless a case that is not closed cites it).",
    )
    continuous_days: float = Field(
        3.0,
        gt=0.0,
        le=365.0,
        title="Keep continuous recordings (days)",
        description="Days a continuous-recording segment is kept (unless a case that is not closed cites it).",
    )
    motion_days: float | None = Field(
        None,
        gt=0.0,
        le=3650.0,
        title="Keep segments with activity (days)",
        description=(
            "Days a segment in which the analysis saw a watched object is kept, when longer than "
            "`continuous_days` (quiet hours age out first, as Frigate's `retain.mode: motion`); unset: as any segment."
        ),
    )


class RecordConfig(ConfigModel):
    """What is recorded of a camera's video: an MP4 clip around each event, copied from the stream's
    own packets (no decoding, no re-encoding)."""

    clips: bool = Field(
        True,
        title="Event clips",
        description="Write an MP4 per event, from pre_s before its trigger to post_s after it, starting at "
        "the keyframe at or before trigger - pre_s (the stream's packets copied, never re-encoded).",
    )
    pre_s: float = Field(
        5.0,
        ge=0.0,
        le=60.0,
        title="Before the trigger (s)",
        description="Stream seconds of video kept before the trigger (each camera keeps its newest packets "
        "for this long, keyframe-aligned, in memory). A long stay's entry may be minutes earlier: the clip "
        "is around the trigger, the entry photo shows the arrival.",
    )
    post_s: float = Field(
        5.0,
        ge=0.0,
        le=120.0,
        title="After the trigger (s)",
        description="Stream seconds after the trigger; the clip is written once they have been read (the "
        "event itself is stored at once, its clip attached when written).",
    )
    continuous: bool = Field(
        False,
        title="Continuous recording",
        description="Record the whole stream into segment_s segments (packets copied, never re-encoded; "
        "fragmented MP4, so a crash loses at most the last fragment).",
    )
    segment_s: float = Field(
        60.0,
        ge=10.0,
        le=3600.0,
        title="Segment length (s)",
        description="Stream seconds per continuous-recording segment: each is cut at the first keyframe at or "
        "after its boundary, so segments are contiguous.",
    )
    retain: RetainConfig = Field(
        default_factory=RetainConfig, title="Retention", description="How long recordings are kept."
    )
