"""Operating modes (normal, flood, ...): per camera group, which rules run, how fast, how urgently."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from citywatch.config.base import ConfigModel


class ModeGroupConfig(ConfigModel):
    """What a mode does to one camera group."""

    rules: list[str] | Literal["all", "none"] = Field(
        "all",
        title="Rules",
        description="Active rules: 'all', 'none', or rule ids / rule types (e.g. [waterlogging]).",
    )
    analysis_fps: float | None = Field(
        None, gt=0.0, le=60.0, title="Analysis fps", description="Override of the camera's rate."
    )
    priority: Literal["normal", "high"] = Field(
        "normal", title="Detector priority", description="High-priority cameras are served first."
    )


class ModeConfig(ConfigModel):
    """A named operating mode: per camera group, which rules run and how fast.

    A camera takes the entries of all its groups (union of rules, highest fps and priority); a
    camera with none of the mode's groups takes the '*' entry, or, without one, all its rules at
    its own rate.
    """

    description: str = Field("", title="Description")
    groups: dict[str, ModeGroupConfig] = Field(
        default_factory=dict, title="Groups", description="Camera group (or '*') to its settings."
    )


def default_modes() -> dict[str, ModeConfig]:
    return {"normal": ModeConfig(description="Every rule of every camera at its own rate.")}
