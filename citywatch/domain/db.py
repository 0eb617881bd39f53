"""Database engines and sessions (SQLite by default, PostgreSQL supported).

`open_database(url)` returns a `Database` holding the engine and a session factory; SQLite gets
its parent directory created, WAL journaling and foreign keys on; a PostgreSQL URL without its
driver installed fails at once with the extra to install (`DatabaseDriverMissing`). No
module-level engine: each runtime or app owns its own, so several can live in one process (tests)
or one per worker. The schema is Alembic's (`citywatch.domain.migrate`): `create_schema()`
upgrades the database to head.

Writes: a session from `session()` is one transaction, committed in the caller's thread before the
caller answers anyone. On SQLite it begins `BEGIN IMMEDIATE` (the write lock is taken before the
first read, so a read-then-write step has one winner; the default deferred BEGIN reads first and
lets two writers decide on the same snapshot); on PostgreSQL a row lock waits at most
`LOCK_TIMEOUT_S` and a transaction left idle is ended by the server. Reads go through
`read_session()`, which refuses to write.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from citywatch.domain.migrate import upgrade
from citywatch.domain.tables import Heartbeat

log = logging.getLogger(__name__)


#: How long a write waits for a lock held by another writer before it fails (and is answered
#: "busy, retry"): SQLite's busy timeout and PostgreSQL's `lock_timeout`.
LOCK_TIMEOUT_S = 10.0
#: The write probe (`Database.write_probe`) waits this long for a lock, and its answer is reused
#: for `PROBE_TTL_S` (a health check polled by many does not write on each poll).
PROBE_LOCK_S = 1.0
PROBE_TTL_S = 2.0
#: Connections per engine: more than any thread pool here holds at once (the API's request
#: threads, the token lookups, the sink, the spool), so a request waits for a lock, never for a
#: connection; a checkout that still finds none fails after `POOL_TIMEOUT_S` (503, retry).
POOL_SIZE, POOL_OVERFLOW, POOL_TIMEOUT_S = 10, 30, 10.0


class ReadOnlySession(Exception):
    """A write was attempted through a read session; writes go through `Database.session()`."""


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
    _probe: tuple[float, str] = (0.0, "")
    _probe_lock: threading.Lock = field(default_factory=threading.Lock)

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
        """A write transaction: committed when the block ends (in this thread: an answer given after
        the block means stored), rolled back on error. On SQLite the write lock is taken at its
        first statement (`BEGIN IMMEDIATE`)."""
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

    def write_probe(self) -> str:
        """`ok` when the database takes a write now, else why not (`locked: ...`, `read-only: ...`,
        `unavailable: ...`). Rewrites this host's `heartbeats` row, waiting at most
        `PROBE_LOCK_S` for a lock; the answer is reused for `PROBE_TTL_S`."""
        if self._probe_fresh():
            return self._probe[1]
        with self._probe_lock:
            if self._probe_fresh():
                return self._probe[1]
            try:
                with self.engine.connect() as connection:
                    _heartbeat(connection)
                answer = "ok"
            except Exception as exc:
                answer = describe_failure(exc)
            self._probe = (time.monotonic(), answer)
            return answer

    def _probe_fresh(self) -> bool:
        at, answer = self._probe
        ttl = PROBE_TTL_S if answer == "ok" else PROBE_TTL_S / 4  # a recovery shows sooner
        return time.monotonic() - at < ttl

    def create_schema(self) -> None:
        """Migrate the database to the newest schema (Alembic `upgrade head`)."""
        upgrade(self.engine)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _heartbeat(connection: Connection) -> None:
    """Upsert this host's heartbeat row in a transaction of its own, with a short lock wait."""
    name = socket.gethostname()[:64]
    values = {"name": name, "beat_at": datetime.now(UTC)}
    if connection.dialect.name == "sqlite":
        raw = connection.connection.dbapi_connection  # no BEGIN yet: set the wait before it
        assert raw is not None
        raw.execute(f"PRAGMA busy_timeout={int(PROBE_LOCK_S * 1000)}")
        try:
            lite = sqlite.insert(Heartbeat)
            with connection.begin():
                upsert = lite.on_conflict_do_update(index_elements=["name"], set_={"beat_at": lite.excluded.beat_at})
                connection.execute(upsert, values)
        finally:
            raw.execute(f"PRAGMA busy_timeout={int(LOCK_TIMEOUT_S * 1000)}")
        return
    pg = postgresql.insert(Heartbeat)
    with connection.begin():
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(PROBE_LOCK_S * 1000)}ms'")
        renew = pg.on_conflict_do_update(index_elements=["name"], set_={"beat_at": pg.excluded.beat_at})
        connection.execute(renew, values)


def describe_failure(exc: BaseException) -> str:
    """What a database error means for a caller, in a few words: `locked` (another writer holds
    the lock: retry), `read-only`, `full` (no space), or `unavailable` (cannot be reached)."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    lowered = text.lower()
    code = getattr(getattr(exc, "orig", None), "sqlstate", None) or ""
    if "database is locked" in lowered or "lock timeout" in lowered or code == "55P03" or "queuepool" in lowered:
        kind = "locked"
    elif "readonly" in lowered or "read-only" in lowered or code == "25006":
        kind = "read-only"
    elif "disk is full" in lowered or "no space" in lowered or code == "53100":
        kind = "full"
    else:
        kind = "unavailable"
    return f"{kind}: {text[:200]}"


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # transactions are begun by `_sqlite_begin`, not by the driver's implicit deferred BEGIN
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={int(LOCK_TIMEOUT_S * 1000)}")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    """Begin SQLite transactions `IMMEDIATE`: the write lock before the first read (the SQLAlchemy
    pysqlite recipe for explicit BEGIN). Autocommit connections (read sessions) begin nothing."""
    if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        return
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _refuse_writes(session: Session, _context: Any, _instances: Any) -> None:
    if session.new or session.dirty or session.deleted:
        raise ReadOnlySession("a read session cannot write: use Database.session() for a write transaction")


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


TRANSACTION_CONTROL = ("BEGIN", "SET LOCAL", "PRAGMA")


def _count_writes(engine: Engine, database: Database) -> None:
    """Bump `database.write_version` when a transaction that wrote commits (statements that are not
    compiled SELECTs count as writes, to be safe); a rolled-back one leaves it as it was."""

    @event.listens_for(engine, "after_cursor_execute")
    def _mark(connection, _cursor, statement, _parameters, context, _executemany) -> None:  # type: ignore[no-untyped-def]
        if statement.startswith(TRANSACTION_CONTROL):  # SQLite's BEGIN IMMEDIATE, a probe's SET LOCAL
            return
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
    kwargs: dict = {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW, "pool_timeout": POOL_TIMEOUT_S}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        else:
            kwargs = {}  # an in-memory database lives in one connection: SQLAlchemy's own pool
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": LOCK_TIMEOUT_S}
    elif parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        # sessions in UTC: timestamps come back in UTC already (nothing to convert per value);
        # a lock waits LOCK_TIMEOUT_S at most, and a transaction idle for a minute is ended (it
        # could only be one whose owner is gone; it would hold its row locks forever)
        options = (
            f"-c timezone=UTC -c lock_timeout={int(LOCK_TIMEOUT_S * 1000)} -c idle_in_transaction_session_timeout=60000"
        )
        kwargs["connect_args"] = {"connect_timeout": 5, "options": options}
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
        event.listen(engine, "begin", _sqlite_begin)
    else:
        _ping_idle_connections(engine)
    database = Database(url, engine, sessionmaker(engine, expire_on_commit=False))
    _count_writes(engine, database)
    database.readers = sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False)
    event.listen(database.readers, "before_flush", _refuse_writes)
    event.listen(database.sessions, "after_commit", database._after_commit)
    event.listen(database.sessions, "after_rollback", lambda session: session.info.pop("citywatch_outbox", None))
    if create:
        database.create_schema()
    return database
