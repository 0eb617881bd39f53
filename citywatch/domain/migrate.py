"""Schema migrations: Alembic, with the revisions in `migrations/` (no alembic.ini needed).

The app and the pipeline migrate on start (`Database.create_schema`); `citywatch db upgrade` does
it by hand. Never `create_all`: the migrated schema is the schema (a test checks it equals the
tables on SQLite and PostgreSQL).
"""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_MIGRATE_LOCK = threading.Lock()


def alembic_config(url: str | None = None) -> Config:
    """The Alembic config of Citywatch's migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the migrations up to `revision` on this engine (serialised per process)."""
    with _MIGRATE_LOCK, engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None before the first migration)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
