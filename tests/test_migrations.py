"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from citywatch.domain import workflow
from citywatch.domain.db import open_database
from citywatch.domain.tables import WORKING_CASE, Base
from tests.ledger_support import BACKENDS


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
def test_migrated_schema_matches_the_models(database_url: str) -> None:
    database = open_database(database_url)
    try:
        with database.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": False})
            differences = compare_metadata(context, Base.metadata)
    finally:
        database.dispose()
    assert differences == [], f"models and migrations differ: {differences}"


def test_the_working_cases_index_covers_exactly_the_statuses_with_a_deadline() -> None:
    quoted = ", ".join(f"'{status}'" for status in workflow.DEADLINE_STATUSES)
    assert f"status IN ({quoted})" == WORKING_CASE
