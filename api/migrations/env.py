"""Alembic environment: migrates the connection handed over by `api.db.upgrade`, or the configured URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from api import models  # noqa: F401  (registers the tables on Base.metadata)
from api.db import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
