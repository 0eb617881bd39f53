"""The `storage:` section: the database and where evidence, recordings and the outage spool are written."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from citywatch.config.base import ConfigModel


class StorageConfig(ConfigModel):
    """Where events and their photo evidence are kept."""

    database_url: str = Field(
        "sqlite:///data/citywatch.db",
        title="Database URL",
        description="SQLAlchemy URL: sqlite:///path (embedded default) or postgresql+psycopg://...",
    )
    evidence_dir: str = Field(
        "data/evidence", title="Evidence directory", description="Where snapshot JPEGs are written."
    )
    recordings_dir: str | None = Field(
        None,
        title="Recordings directory",
        description="Where event clips (MP4) are written, as <camera>/<UTC day>/<event uid>.mp4; the "
        "database keeps each clip's path relative to it, and the API serves only files inside it; "
        "default: recordings beside the evidence directory (data/recordings).",
    )
    max_recordings_gb: float = Field(
        500.0,
        gt=0.0,
        title="Recordings limit (GB)",
        description="Most gigabytes (10^9 bytes) in the recordings directory: the retention maintainer "
        "deletes the oldest recordings no open case cites beyond it (and when the disk fills); new clips "
        "are refused while it is still exceeded (their events are stored without one; the log says why).",
    )
    spool_path: str | None = Field(
        None,
        title="Spool file",
        description="Local durable queue (SQLite) for events while the database is unreachable; "
        "default: spool.db beside the evidence directory.",
    )

    @property
    def recordings_root(self) -> Path:
        """The recordings directory: `recordings_dir`, else `recordings` beside the evidence directory."""
        return Path(self.recordings_dir) if self.recordings_dir else Path(self.evidence_dir).parent / "recordings"

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        """A URL SQLAlchemy can parse, of a dialect it has. The driver is not imported here: a
        missing one is `open_database`'s error, which names the extra to install."""
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError("not a database URL: use sqlite:///path or postgresql+psycopg://user@host/db") from None
        try:
            url.get_dialect()
        except NoSuchModuleError:
            raise ValueError(
                f"unknown database {url.drivername!r}: use sqlite:///path or postgresql+psycopg://user@host/db"
            ) from None
        return value
