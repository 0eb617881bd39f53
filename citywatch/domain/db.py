"""Database engines and sessions (SQLite by default, PostgreSQL supported).

`open_database(url)` returns a `Database` holding the engine and a session factory; SQLite gets
its parent directory created, WAL journaling and foreign keys on; a PostgreSQL URL without its
driver installed fails at once with the extra to install (`DatabaseDriverMissing`). No
module-level engine: each runtime or app owns its own, so several can live in one process (tests)
or one per worker. The schema is Alembic's (`citywatch.domain.migrate`): `create_schema()`
upgrades the database to head.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from citywatch.domain.migrate import upgrade

log = logging.getLogger(__name__)


class DatabaseDriverMissing(Exception):
    """The database URL names a driver that is not installed; the message says what to install."""


@dataclass
class Database:
    """An engine and its session factory."""

    url: str
    engine: Engine
    sessions: sessionmaker[Session]
    #: Called after each commit with the messages the session queued (see `ledger.outbox`).
    subscribers: list[Callable[[list[tuple[str, dict[str, Any]]]], None]] = field(default_factory=list)
    #: Sessions in autocommit mode, for requests that only read (see `read_session`).
    readers: sessionmaker[Session] | None = None
    #: Bumped by every commit that wrote through this object's engine: caches of small answers
    #: key on it, so this process's own writes show at once (the API's `page_total`).
    write_version: int = 0

    def _after_commit(self, session: Session) -> None:
        messages = session.info.pop("citywatch_outbox", None)
        if not messages:
            return
        for subscriber in list(self.subscribers):
            try:
                subscriber(messages)
            except Exception:
                log.exception("database subscriber failed")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A session for reads: autocommit, so a request that only reads costs its queries and
        nothing else (no BEGIN/COMMIT round trips). Each statement sees its own snapshot."""
        session = (self.readers or self.sessions)()
        try:
            yield session
            session.commit()  # a no-op in autocommit mode; keeps accidental writes
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def read_scalar(self, statement: Any) -> Any:
        """The first column of the first row of a read-only statement, on a session of its own
        (for computations that may outlive the request that started them, e.g. the API's caches)."""
        with self.read_session() as session:
            return session.scalar(statement)

    def create_schema(self) -> None:
        """Migrate the database to the newest schema (Alembic `upgrade head`)."""
        upgrade(self.engine)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


#: A pooled connection idle longer than this is checked (`SELECT 1`) before it is handed out.
PING_IDLE_S = 2.0


def _ping_idle_connections(engine: Engine, idle_s: float = PING_IDLE_S) -> None:
    """Pessimistic disconnect handling, but only for connections that sat idle in the pool.

    SQLAlchemy's `pool_pre_ping` pings on *every* checkout: one extra round trip per request.
    A connection that was in use a moment ago is as alive as a ping would show, so only one idle
    for over `idle_s` seconds (the ones a database restart or a firewall timeout leaves dead) is
    pinged; a dead one raises `DisconnectionError`, and the pool retries with a fresh connection
    (SQLAlchemy's documented checkout-event recipe). A connection that dies while busy is caught
    by SQLAlchemy's disconnect detection, which invalidates the whole pool.
    """

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
        record.info["citywatch_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection, record, _proxy) -> None:  # type: ignore[no-untyped-def]
        since = record.info.get("citywatch_idle_since")
        if since is None or time.monotonic() - since < idle_s:
            return
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
            # psycopg opened a transaction for the ping unless in autocommit: end it
            if not getattr(dbapi_connection, "autocommit", True):
                dbapi_connection.rollback()
        except Exception as exc:
            raise DisconnectionError(f"pooled connection is dead: {exc}") from exc


def _count_writes(engine: Engine, database: Database) -> None:
    """Bump `database.write_version` when a transaction that wrote commits (statements that are not
    compiled SELECTs count as writes, to be safe); a rolled-back one leaves it as it was."""

    @event.listens_for(engine, "after_cursor_execute")
    def _mark(connection, _cursor, _statement, _parameters, context, _executemany) -> None:  # type: ignore[no-untyped-def]
        if context is None or context.isinsert or context.isupdate or context.isdelete or context.compiled is None:
            connection.info["citywatch_wrote"] = True

    @event.listens_for(engine, "commit")
    def _commit(connection) -> None:  # type: ignore[no-untyped-def]
        if connection.info.pop("citywatch_wrote", False):
            database.write_version += 1

    @event.listens_for(engine, "rollback")
    def _rollback(connection) -> None:  # type: ignore[no-untyped-def]
        if connection.invalidated:  # a lost connection: its info went with it, and asking would raise
            return
        connection.info.pop("citywatch_wrote", None)


def open_database(url: str, create: bool = True) -> Database:
    """Open (and by default create the schema of) the database at a SQLAlchemy URL."""
    parsed = make_url(url)
    kwargs: dict = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 10}
    elif parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        # sessions in UTC: timestamps come back in UTC already (nothing to convert per value)
        kwargs["connect_args"] = {"connect_timeout": 5, "options": "-c timezone=UTC"}
        kwargs["pool_size"], kwargs["max_overflow"] = 10, 20
    try:
        engine = create_engine(url, **kwargs)
    except ImportError as exc:  # SQLAlchemy imports the DBAPI module when it makes the engine
        raise DatabaseDriverMissing(
            f"the database {parsed.render_as_string(hide_password=True)} needs the "
            f"{parsed.get_backend_name()} driver ({exc.name or exc}), which is not installed: "
            "pip install 'citywatch[postgres]'"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        _ping_idle_connections(engine)
    database = Database(url, engine, sessionmaker(engine, expire_on_commit=False))
    _count_writes(engine, database)
    database.readers = sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False)
    event.listen(database.sessions, "after_commit", database._after_commit)
    event.listen(database.sessions, "after_rollback", lambda session: session.info.pop("citywatch_outbox", None))
    if create:
        database.create_schema()
    return database
