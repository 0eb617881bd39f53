"""The `storage:` section: the database and where evidence and the outage spool are written."""

from __future__ import annotations

from pydantic import Field

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
    spool_path: str | None = Field(
        None,
        title="Spool file",
        description="Local durable queue (SQLite) for events while the database is unreachable; "
        "default: spool.db beside the evidence directory.",
    )
