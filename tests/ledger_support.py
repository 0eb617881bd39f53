"""Helpers for the ledger/API tests: databases on SQLite and on a throwaway PostgreSQL, apps, events.

PostgreSQL: one template database migrated per session, a fresh copy per test (CREATE DATABASE
... TEMPLATE), all dropped at the end. Set CITYWATCH_PG_DSN to use another server.

The fixtures here (`pg_template`, `database_url`, `ledger`) are registered for every test by
`pytest_plugins` in tests/conftest.py: request them by name, do not import them.
"""

from __future__ import annotations

import os
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from citywatch.config import CitywatchConfig
from citywatch.domain.accounts import add_user
from citywatch.domain.cameras import register_cameras
from citywatch.domain.db import Database, open_database
from citywatch.events import EventRecord
from citywatch.sink import EventSink
from tests.support import demo_config_dict

PG_DSN = os.environ.get("CITYWATCH_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
#: A tiny valid JPEG (1x1), enough to stand in for evidence.
JPEG = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b0b0c1912130f141d1a"
    "1f1e1d1a1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e333432ffc0000b080001000101011100ffc4001f"
    "0000010501010101010100000000000000000102030405060708090a0bffc400b5100002010303020403050504040000017d010203"
    "00041105122131410613516107227114328191a1082342b1c11552d1f02433627282090a161718191a25262728292a3435363738"
    "393a434445464748494a535455565758595a636465666768696a737475767778797a838485868788898a92939495969798999aa2"
    "a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7"
    "f8f9faffda0008010100003f00fbd3ffd9"
)


def parking_record(camera: str = "campus-road", i: int = 0) -> EventRecord:
    """An illegal-parking record on the demo camera's kerb zone, with `JPEG` as its evidence:
    track `i`, first seen at stream second `i`, triggered 20 s later, occurring now."""
    return EventRecord(
        uid=str(uuid.uuid4()),
        type="illegal_parking",
        camera_id=camera,
        rule_id="kerb-no-parking",
        zone_id="kerb",
        label="car",
        track_id=i,
        first_seen_s=float(i),
        triggered_s=float(i) + 20,
        score=0.9,
        box=(1.0, 2.0, 3.0, 4.0),
        occurred_wall_s=time.time(),
        images={"trigger": JPEG, "entry": JPEG},
    )


def pg_admin():  # type: ignore[no-untyped-def]
    # deferred: psycopg is the optional `postgres` extra, and this plugin is loaded by every test
    import psycopg

    try:
        return psycopg.connect(PG_DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL not reachable at {PG_DSN!r}: {exc}")


def pg_url(name: str, host: str = "127.0.0.1", port: int = 5432) -> str:
    return f"postgresql+psycopg://postgres@{host}:{port}/{name}"


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated PostgreSQL database used as the template of each test's fresh database."""
    name = f"cw_tmpl_{os.getpid()}_{secrets.token_hex(3)}"
    with pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    database = open_database(pg_url(name))
    database.dispose()
    yield name
    with pg_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture()
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of the test's backend (`request.param`: sqlite or postgresql)."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"cw_test_{os.getpid()}_{secrets.token_hex(4)}"
    with pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield pg_url(name)
    with pg_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Ledger:
    """An app over a fresh database, with a sink feeding it events and one token per role."""

    config: CitywatchConfig
    database: Database
    sink: EventSink
    client: TestClient
    tokens: dict[str, str]

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def event(
        self,
        zone: str = "kerb",
        type_: str = "illegal_parking",
        rule: str = "kerb-no-parking",
        camera: str = "campus-road",
        at: float | None = None,
        plate: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Record a synthetic event through the real sink (evidence files, row, case)."""
        record = EventRecord(
            uid=str(uuid.uuid4()),
            type=type_,
            camera_id=camera,
            rule_id=rule,
            zone_id=zone,
            label="truck",
            track_id=1,
            first_seen_s=0.5,
            triggered_s=20.5,
            score=0.8,
            box=(651.0, 42.6, 723.8, 97.1),
            occurred_wall_s=at if at is not None else time.time(),
            images={"trigger": JPEG, "entry": JPEG},
            plate=plate,
        )
        return self.sink.record(record)


def make_ledger(
    tmp_path: Path, url: str, *, anonymous_read: bool = False, rule_case: dict | None = None, extra: dict | None = None
) -> Ledger:
    """Build config, database (migrated), cameras, users (one token per role), sink and client."""
    data = demo_config_dict(tmp_path)
    data["storage"]["database_url"] = url
    data["storage"]["spool_path"] = str(tmp_path / "spool.db")
    data["api"] = {"anonymous_read": anonymous_read}
    if rule_case is not None:
        data["cameras"][0]["rules"][0]["case"] = rule_case
    data.update(extra or {})
    config = CitywatchConfig.model_validate(data)
    database = open_database(url)
    register_cameras(database, config.cameras)
    with database.session() as session:
        tokens = {role: add_user(session, f"{role}-1", role) for role in ("viewer", "operator", "admin")}
    sink = EventSink.from_config(config, database)
    client = TestClient(create_app(config, database))
    return Ledger(config, database, sink, client, tokens)


@pytest.fixture()
def ledger(tmp_path: Path, database_url: str) -> Iterator[Ledger]:
    """A ledger app on the parametrised backend (use with `@pytest.mark.parametrize(..., indirect=True)`)."""
    built = make_ledger(tmp_path, database_url)
    yield built
    built.sink.close()
    built.database.dispose()
