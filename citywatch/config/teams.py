"""The `teams:` section: the enforcement teams cases are dispatched to, per district, with a
contact (one name in the operators' language, whatever the console's language)."""

from __future__ import annotations

from pydantic import Field

from citywatch.config.base import ConfigModel, Identifier


class TeamConfig(ConfigModel):
    """One enforcement team (中队)."""

    id: Identifier = Field(title="Id", description="Stable id, e.g. squad-1.")
    name: str = Field(min_length=1, max_length=100, title="Name", description="As cases and reports show it.")
    district: str = Field("", max_length=100, title="District", description="The district it serves; empty: any.")
    contact: str = Field("", max_length=200, title="Contact", description="Duty phone or radio channel.")


def default_teams() -> list[TeamConfig]:
    """Teams of a config that names none: the usual squads of a district bureau, serving any district."""
    names = ("第一执法中队", "第二执法中队", "第三执法中队", "机动中队", "市容环卫队")
    return [TeamConfig(id=f"team-{i}", name=name) for i, name in enumerate(names, start=1)]
