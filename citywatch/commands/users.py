"""`citywatch users`: API users and their bearer tokens.

    citywatch users add NAME --role viewer|operator|admin [--config FILE]   # prints the token, one line
    citywatch users list [--config FILE]
    citywatch users revoke NAME [--config FILE]
    citywatch users passwd NAME [--config FILE]     # reads the new password from stdin (or asks)

`add` creates the user (or gives an existing one the role) and prints a new token on stdout and
nothing else; only its SHA-256 is stored, so it cannot be shown again.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from citywatch.config import load_config
from citywatch.domain.accounts import ROLES, add_user, list_users, revoke_user
from citywatch.domain.db import Database, open_database
from citywatch.domain.sessions import set_password

DEFAULT_CONFIG = "configs/demo.yaml"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `users` subcommand (add, list, revoke)."""
    parser = subparsers.add_parser("users", help="API users and tokens")
    sub = parser.add_subparsers(dest="users_command", required=True)
    add = sub.add_parser("add", help="create a user (or re-role one) and print a new token")
    add.add_argument("name", help="user name, e.g. wang.li")
    add.add_argument("--role", required=True, choices=ROLES, help="viewer, operator or admin")
    add.add_argument("--config", default=DEFAULT_CONFIG, help=f"config YAML (default {DEFAULT_CONFIG})")
    add.set_defaults(func=cmd_add)
    listing = sub.add_parser("list", help="users, roles and token counts")
    listing.add_argument("--config", default=DEFAULT_CONFIG, help="config YAML")
    listing.set_defaults(func=cmd_list)
    revoke = sub.add_parser("revoke", help="disable a user and revoke every token of theirs")
    revoke.add_argument("name")
    revoke.add_argument("--config", default=DEFAULT_CONFIG, help="config YAML")
    revoke.set_defaults(func=cmd_revoke)
    passwd = sub.add_parser("passwd", help="set a user's password for the console's sign-in (read from stdin)")
    passwd.add_argument("name")
    passwd.add_argument("--config", default=DEFAULT_CONFIG, help="config YAML")
    passwd.set_defaults(func=cmd_passwd)


def _database(path: str) -> Database:
    return open_database(load_config(path).storage.database_url)


def cmd_add(args: argparse.Namespace) -> int:
    """Print a new token for NAME (and nothing else on stdout)."""
    database = _database(args.config)
    try:
        with database.session() as session:
            token = add_user(session, args.name, args.role)
    finally:
        database.dispose()
    print(token)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """Print one line per user: name, role, active tokens, disabled."""
    database = _database(args.config)
    try:
        with database.session() as session:
            for user in list_users(session):
                state = "disabled" if user.disabled else "active"
                print(f"{user.name}\t{user.role}\t{user.tokens} token(s)\t{state}")
    finally:
        database.dispose()
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    """Disable NAME; exit status 1 when there is no such user."""
    database = _database(args.config)
    try:
        with database.session() as session:
            found = revoke_user(session, args.name)
    finally:
        database.dispose()
    if not found:
        print(f"citywatch: no user {args.name!r}")
        return 1
    return 0


def cmd_passwd(args: argparse.Namespace) -> int:
    """Set NAME's password: asked twice on a terminal, else the first line of stdin (never an argument,
    which would stay in the shell's history and the process list). Exit 1 when refused."""
    if sys.stdin.isatty():
        password = getpass.getpass("new password: ")
        if getpass.getpass("again: ") != password:
            print("citywatch: the two passwords differ", file=sys.stderr)
            return 1
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    database = _database(args.config)
    try:
        with database.session() as session:
            set_password(session, args.name, password)
    except ValueError as exc:
        print(f"citywatch: {exc}", file=sys.stderr)
        return 1
    finally:
        database.dispose()
    return 0
