"""`citywatch db`: the database schema (Alembic migrations in citywatch/domain/migrations).

citywatch db upgrade --config FILE [--revision REV]   # migrate (the app also does this on start)
citywatch db current --config FILE                    # print the revision the database is at
"""

from __future__ import annotations

import argparse

from citywatch.config import load_config
from citywatch.domain.db import open_database
from citywatch.domain.migrate import current_revision, upgrade


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `db` subcommand (upgrade, current)."""
    parser = subparsers.add_parser("db", help="database schema migrations")
    sub = parser.add_subparsers(dest="db_command", required=True)
    upgrade = sub.add_parser("upgrade", help="migrate the database to the newest schema")
    upgrade.add_argument("--config", required=True, help="config YAML")
    upgrade.add_argument("--revision", default="head", help="target revision (default head)")
    upgrade.set_defaults(func=cmd_upgrade)
    current = sub.add_parser("current", help="print the database's schema revision")
    current.add_argument("--config", required=True, help="config YAML")
    current.set_defaults(func=cmd_current)


def cmd_upgrade(args: argparse.Namespace) -> int:
    """Run the migrations and print the revision reached."""
    database = open_database(load_config(args.config).storage.database_url, create=False)
    try:
        upgrade(database.engine, args.revision)
        print(current_revision(database.engine))
    finally:
        database.dispose()
    return 0


def cmd_current(args: argparse.Namespace) -> int:
    """Print the revision (or `none` before the first migration)."""
    database = open_database(load_config(args.config).storage.database_url, create=False)
    try:
        print(current_revision(database.engine) or "none")
    finally:
        database.dispose()
    return 0
