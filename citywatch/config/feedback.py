"""The `feedback:` section: how operators' feedback teaches the pipeline (issue #18): when rejected
alerts at one place become a proposed suppression, and what an annotation may hold."""

from __future__ import annotations

from pydantic import Field

from citywatch.config.base import ConfigModel


class FeedbackConfig(ConfigModel):
    """Suppressions learnt from rejections, and the bounds of box annotations."""

    auto_apply: bool = Field(
        False,
        title="Apply suppressions at once",
        description="false: a learnt suppression is only proposed and an admin activates it; "
        "true: it is active as soon as it is learnt.",
    )
    min_rejections: int = Field(
        3,
        ge=2,
        le=100,
        title="Rejections to learn from",
        description="How many alerts of one camera, rule and label, rejected for the same reason with "
        "overlapping boxes, propose a suppression there.",
    )
    lookback_days: float = Field(
        14.0,
        gt=0.0,
        le=365.0,
        title="Look-back (days)",
        description="Only rejections of alerts that occurred within this many days count.",
    )
    padding: float = Field(
        0.02,
        ge=0.0,
        le=0.5,
        title="Region padding",
        description="Added on every side of the union of the rejected boxes (a fraction of the frame).",
    )
    min_iou: float = Field(
        0.3,
        gt=0.0,
        le=1.0,
        title="Overlap (IoU)",
        description="Two rejected boxes are at the same place when their IoU reaches this, or when the "
        "centre of one lies inside the other.",
    )
    confidence_margin: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        title="Confidence margin",
        description="When set, a suppression only holds back detections under the highest rejected "
        "confidence plus this margin (more confident ones still alert); unset: all of them.",
    )
    annotation_labels: list[str] = Field(
        default_factory=list,
        title="Extra annotation labels",
        description="Labels an annotation may use besides Citywatch's own (`vision.labels`), e.g. a "
        "new class to train.",
        examples=[["stall", "banner"]],
    )
    max_boxes: int = Field(
        100,
        ge=1,
        le=1000,
        title="Boxes per annotation",
        description="The most boxes one annotation may hold.",
    )
