"""An answer of 2xx means stored, and no burst of writes hangs the API (on SQLite and PostgreSQL).

Over HTTP against a real uvicorn server (`ThreadServer`, the default 4 request threads):
- a created case is in the database when its 201 arrives (read from another connection);
- a write whose commit fails is answered 503, never 2xx;
- 8 concurrent requests for the same step of one case: exactly one 200, the others 409, all
  answered within 10 s while `/healthz` keeps answering (before: two winners on SQLite; a
  permanent deadlock on PostgreSQL with threads + 1 requests);
- a mixed-write load from 20 clients leaves every case's audit trail one unbroken chain.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from bench.writes.load import audit_ledger, drive
from citywatch.domain import db as db_module
from tests.ledger_support import BACKENDS, Ledger, make_ledger
from tests.support import ThreadServer

HOTLINE = {"source": "hotline", "type": "litter", "description": "d", "location": "l"}


@pytest.fixture()
def served(tmp_path: Path, database_url: str):  # type: ignore[no-untyped-def]
    built = make_ledger(tmp_path, database_url)
    with ThreadServer(built.client.app) as server:
        yield built, server.base
    built.sink.close()
    built.database.dispose()


def _open_case(base: str, ledger: Ledger, ticket: str) -> int:
    answer = httpx.post(f"{base}/api/cases", json={**HOTLINE, "ticket": ticket}, headers=ledger.auth("operator"))
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
def test_a_created_case_is_stored_when_its_201_arrives(served, database_url: str) -> None:  # type: ignore[no-untyped-def]
    ledger, base = served
    other = create_engine(database_url)  # another connection, not the app's pool
    missing = []
    try:
        with httpx.Client(base_url=base, headers=ledger.auth("operator")) as client:
            for i in range(60):
                answer = client.post("/api/cases", json={**HOTLINE, "ticket": f"t-{i}"})
                assert answer.status_code == 201, answer.text
                with other.connect() as connection:
                    found = connection.execute(text("SELECT id FROM cases WHERE hotline_ticket = :t"), {"t": f"t-{i}"})
                    if found.first() is None:
                        missing.append(i)
    finally:
        other.dispose()
    assert missing == []


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", [BACKENDS[1]], indirect=True)
def test_a_write_whose_commit_fails_is_never_acknowledged(served, database_url: str) -> None:  # type: ignore[no-untyped-def]
    """A deferred constraint trigger fails every transaction that wrote a case action at COMMIT,
    after every statement succeeded: what a full disk or a lost server does to a commit."""
    ledger, base = served
    case_id = _open_case(base, ledger, "before")
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'commit refused' USING ERRCODE = '53100'; END $$"
        )
        connection.exec_driver_sql(
            "CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON case_actions "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse()"
        )
    try:
        headers = ledger.auth("operator")
        created = httpx.post(f"{base}/api/cases", json={**HOTLINE, "ticket": "during"}, headers=headers)
        moved = httpx.post(
            f"{base}/api/cases/{case_id}/transitions", json={"to": "dispatched", "team": "一中队"}, headers=headers
        )
        assert created.status_code == 503 and moved.status_code == 503, (created.text, moved.text)
        assert created.json()["reason"] == "full" and created.headers["Retry-After"]
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM cases WHERE hotline_ticket = 'during'")).scalar() == 0
            assert connection.execute(text("SELECT status FROM cases WHERE id = :i"), {"i": case_id}).scalar() == (
                "registered"
            )
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP TRIGGER refuse_at_commit ON case_actions")
        engine.dispose()


def test_a_locked_sqlite_database_answers_busy_not_stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process holds SQLite's write lock past the lock timeout: 503 `locked`, nothing stored,
    and `/healthz` says so (it used to probe with a read, which passes)."""
    import sqlite3  # the other process's view of the file: a plain driver connection

    monkeypatch.setattr(db_module, "LOCK_TIMEOUT_S", 1.0)
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    ledger = make_ledger(tmp_path, url)
    try:
        with ThreadServer(ledger.client.app) as server:
            holder = sqlite3.connect(tmp_path / "ledger.db", isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")
            try:
                started = time.monotonic()
                answer = httpx.post(
                    f"{server.base}/api/cases", json={**HOTLINE, "ticket": "locked"}, headers=ledger.auth("operator")
                )
                assert answer.status_code == 503 and answer.json()["reason"] == "locked", answer.text
                assert time.monotonic() - started < 5
                health = httpx.get(f"{server.base}/healthz")
                assert health.status_code == 503 and health.json()["database"].startswith("locked")
            finally:
                holder.execute("ROLLBACK")
                holder.close()
            count = sqlite3.connect(tmp_path / "ledger.db").execute("SELECT count(*) FROM cases").fetchone()[0]
            assert count == 0
    finally:
        ledger.sink.close()
        ledger.database.dispose()


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
def test_one_winner_per_step_and_no_hang(served) -> None:  # type: ignore[no-untyped-def]
    ledger, base = served
    healthz_worst = [0.0]
    stop = threading.Event()

    def watch_health() -> None:
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                started = time.monotonic()
                client.get(f"{base}/healthz")
                healthz_worst[0] = max(healthz_worst[0], time.monotonic() - started)
                time.sleep(0.05)

    watcher = threading.Thread(target=watch_health, daemon=True)
    watcher.start()
    try:
        for round_ in range(5):
            case_id = _open_case(base, ledger, f"race-{round_}")
            barrier = threading.Barrier(8)

            def dispatch(_: int, case_id: int = case_id, barrier: threading.Barrier = barrier) -> tuple[int, float]:
                with httpx.Client(timeout=10) as client:
                    barrier.wait()
                    started = time.monotonic()
                    answer = client.post(
                        f"{base}/api/cases/{case_id}/transitions",
                        json={"to": "dispatched", "team": "一中队"},
                        headers=ledger.auth("operator"),
                    )
                    return answer.status_code, time.monotonic() - started

            with ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(dispatch, range(8)))
            codes = sorted(code for code, _ in answers)
            assert codes == [200] + [409] * 7, f"round {round_}: {codes}"
            assert max(seconds for _, seconds in answers) < 10
            detail = httpx.get(f"{base}/api/cases/{case_id}", headers=ledger.auth("viewer")).json()
            assert [a["to_status"] for a in detail["actions"]].count("dispatched") == 1
    finally:
        stop.set()
        watcher.join(15)
    assert healthz_worst[0] < 10


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
def test_a_mixed_write_load_leaves_every_trail_unbroken(served, database_url: str) -> None:  # type: ignore[no-untyped-def]
    ledger, base = served
    load = drive(base, ledger.tokens["operator"], seconds=8, clients=20, concurrency=50)
    with ThreadPoolExecutor(1) as pool:  # a thread of its own: another test may have left a loop running here
        result = pool.submit(asyncio.run, load).result()
    print("write load:", result.summary())  # the p99 of a short run; bench/writes has the 60 s figures
    assert result.hangs == 0 and result.errors == []
    assert result.codes[201] > 0 and result.codes[200] > 0
    assert set(result.codes) <= {200, 201, 409}, result.codes
    assert audit_ledger(database_url) == []
