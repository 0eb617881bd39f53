"""Username and password sign-in (issue #17's sessions) over the real API and command line: a
password set by `citywatch users passwd` (from stdin) or by an admin is stored as an argon2id hash,
signs in to an expiring session token that works like an API token, wrong names and passwords get
the same 401, repeated failures are refused for a while, an expired session holds nobody, and
signing out (this session, or everywhere) revokes sessions at once while API tokens stay."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from citywatch.config import load_config
from citywatch.domain import sessions
from citywatch.domain.db import open_database
from citywatch.domain.tables import User
from tests.ledger_support import Ledger, make_ledger
from tests.support import REPO, demo_config_dict, write_config

PASSWORD = "correct horse battery"


@pytest.fixture()
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    built = make_ledger(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}")
    yield built
    built.sink.close()
    built.database.dispose()


def me(ledger: Ledger, token: str) -> int:
    return ledger.client.get("/api/console/me", headers={"Authorization": f"Bearer {token}"}).status_code


def test_a_password_signs_in_to_a_session_that_expires_and_signs_out(ledger: Ledger) -> None:
    admin, url = ledger.auth("admin"), "/api/users/operator-1/password"
    assert ledger.client.put(url, json={"password": PASSWORD}, headers=ledger.auth("operator")).status_code == 403
    assert ledger.client.put(url, json={"password": "short"}, headers=admin).status_code == 422
    assert (
        ledger.client.put("/api/users/nobody/password", json={"password": PASSWORD}, headers=admin).status_code == 404
    )
    assert ledger.client.put(url, json={"password": PASSWORD}, headers=admin).status_code == 204
    with ledger.database.read_session() as session:
        stored = session.scalars(select(User.password_hash).where(User.name == "operator-1")).one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored

    signed = ledger.client.post("/api/session", json={"username": "operator-1", "password": PASSWORD})
    assert signed.status_code == 201, signed.text
    body = signed.json()
    assert body["name"] == "operator-1" and body["role"] == "operator" and len(body["token"]) >= 40
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(hours=11.9) < expires - datetime.now(UTC) <= timedelta(hours=12)  # api.session_hours
    assert me(ledger, body["token"]) == 200
    wrong = ledger.client.post("/api/session", json={"username": "operator-1", "password": "not it at all"})
    unknown = ledger.client.post("/api/session", json={"username": "nobody", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401 and wrong.json()["detail"] == unknown.json()["detail"]

    out = ledger.client.delete("/api/session", headers={"Authorization": f"Bearer {body['token']}"})
    assert out.status_code == 204 and me(ledger, body["token"]) == 401

    with ledger.database.session() as session:  # a session issued two hours ago, for one hour
        old = sessions.sign_in(session, "operator-1", PASSWORD, hours=1, now=datetime.now(UTC) - timedelta(hours=2))
    assert old is not None and me(ledger, old.token) == 401


def test_sign_out_everywhere_keeps_api_tokens_and_failures_are_limited(ledger: Ledger) -> None:
    ledger.client.put("/api/users/viewer-1/password", json={"password": PASSWORD}, headers=ledger.auth("admin"))
    tokens = [
        ledger.client.post("/api/session", json={"username": "viewer-1", "password": PASSWORD}).json()["token"]
        for _ in range(2)
    ]
    assert all(me(ledger, token) == 200 for token in tokens)
    everywhere = "/api/session/sign-out-everywhere"
    revoked = ledger.client.post(everywhere, headers={"Authorization": f"Bearer {tokens[0]}"})
    assert revoked.status_code == 200 and revoked.json() == {"revoked": 2}
    assert [me(ledger, token) for token in tokens] == [401, 401]
    assert me(ledger, ledger.tokens["viewer"]) == 200  # the API token made by `users add` stays
    api_token = {"Authorization": f"Bearer {ledger.tokens['viewer']}"}
    assert ledger.client.delete("/api/session", headers=api_token).status_code == 204
    assert me(ledger, ledger.tokens["viewer"]) == 200  # signing out of a console never revokes an API token

    guess = {"username": "viewer-1", "password": "guess guess"}
    for _ in range(5):
        assert ledger.client.post("/api/session", json=guess).status_code == 401
    blocked = ledger.client.post("/api/session", json={"username": "viewer-1", "password": PASSWORD})
    assert blocked.status_code == 429  # even the right password, until the window has passed


def test_users_passwd_reads_the_password_from_stdin(tmp_path: Path) -> None:
    config = write_config(tmp_path, demo_config_dict(tmp_path))

    def users(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "citywatch", "users", *args, "--config", str(config)]
        return subprocess.run(command, cwd=REPO, input=stdin, text=True, capture_output=True, timeout=60)

    assert users("add", "li.ming", "--role", "operator").returncode == 0
    short = users("passwd", "li.ming", stdin="short\n")
    assert short.returncode == 1 and "at least 10 characters" in short.stderr
    done = users("passwd", "li.ming", stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    database = open_database(load_config(config).storage.database_url)
    try:
        with database.session() as session:
            assert sessions.sign_in(session, "li.ming", PASSWORD, hours=1) is not None
            assert sessions.sign_in(session, "li.ming", "wrong password!", hours=1) is None
    finally:
        database.dispose()
