"""Alembic migrations of the Citywatch database (run by `Database.create_schema`, `citywatch db upgrade`)."""
