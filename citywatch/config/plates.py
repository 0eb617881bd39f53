"""The `plates:` section: the plate reader's models and how often a parked vehicle's plate is read
(for parking rules with `plates: true`; `vision.plates.watch`)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from citywatch.config.base import ConfigModel


class PlatesConfig(ConfigModel):
    """Plate reading for parking enforcement (the reader runs only for rules that ask for it)."""

    detector_model: str = Field(
        "ppocr-v4-det",
        title="Text detector model",
        description="Model store name (models/models.yaml) of the text detector that finds plates.",
    )
    recognizer_model: str = Field(
        "ppocr-v4-rec",
        title="Text recogniser model",
        description="Model store name of the recogniser that reads them.",
    )
    every_s: float = Field(
        2.0,
        gt=0.0,
        le=600.0,
        title="Read every (s)",
        description="Stream seconds between two readings of one staying vehicle (for the first half of its "
        "readings; the interval then doubles after each, so a plate hidden at arrival is read later).",
    )
    max_reads: int = Field(
        10,
        ge=1,
        le=100,
        title="Readings per stay",
        description="The most readings of one stay (CPU: about a tenth of a second each on one core).",
    )
    min_agree: int = Field(
        2,
        ge=1,
        le=20,
        title="Agreeing readings",
        description="Frames that must read the same plate before an event carries it.",
    )

    def watch(self) -> dict[str, Any]:
        """The reading rate as `vision.plates.watch.PlateWatch` takes it."""
        return {"every_s": self.every_s, "max_reads": self.max_reads, "min_agree": self.min_agree}
