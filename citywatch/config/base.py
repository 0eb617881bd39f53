"""What every configuration model shares: unknown keys are errors, values are frozen, and the
small types (identifiers, normalised points, label names) the concern modules use."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

#: Labels a rule may name. Detector class names are mapped onto these (see `vision.labels`).
VEHICLE_LABELS = ("car", "truck", "bus", "motorcycle")
NON_MOTOR_LABELS = ("bicycle", "e-bike", "tricycle")

Point = tuple[Annotated[float, Field(ge=0.0, le=1.0)], Annotated[float, Field(ge=0.0, le=1.0)]]
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class ConfigModel(BaseModel):
    """Base for config models: unknown keys are errors, so a typo never silently does nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def require_unique(kind: str, ids: list[str]) -> None:
    """`ValueError` naming the ids that occur more than once (e.g. `duplicate zone ids: kerb`)."""
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ValueError(f"duplicate {kind} ids: {', '.join(repeated)}")
