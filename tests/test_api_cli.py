"""The ledger's command line and migrations: `users add` prints a working token, `db upgrade`
migrates (also a walking-skeleton database made by `create_all`), `serve` serves the API."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from citywatch.domain.db import open_database
from citywatch.domain.migrate import alembic_config, current_revision, upgrade
from tests.support import REPO, CitywatchProcess, demo_config_dict, write_config

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def citywatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "citywatch.cli", *args], capture_output=True, text=True, timeout=60)


def test_users_add_prints_only_a_token_and_db_upgrade(tmp_path: Path) -> None:
    config = write_config(tmp_path, demo_config_dict(tmp_path))
    upgraded = citywatch("db", "upgrade", "--config", str(config))
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.strip() == HEAD
    added = citywatch("users", "add", "wang.li", "--role", "operator", "--config", str(config))
    assert added.returncode == 0, added.stderr
    lines = added.stdout.splitlines()
    assert len(lines) == 1 and len(lines[0]) >= 43 and " " not in lines[0]
    listed = citywatch("users", "list", "--config", str(config))
    assert listed.stdout.split("\t")[:2] == ["wang.li", "operator"]
    bad_role = citywatch("users", "add", "x", "--role", "root", "--config", str(config))
    assert bad_role.returncode == 2

    with CitywatchProcess(config, command="serve", timeout_s=30) as server:
        base = server.base
        token = {"Authorization": f"Bearer {lines[0]}"}
        body = {"source": "hotline", "ticket": "cli-1", "type": "litter", "description": "d", "location": "l"}
        assert httpx.post(f"{base}/api/cases", json=body, headers=token).status_code == 201
        assert httpx.post(f"{base}/api/cases", json=body).status_code == 401
        assert httpx.get(f"{base}/api/cases").json()["total"] == 1  # anonymous read is the default
    revoked = citywatch("users", "revoke", "wang.li", "--config", str(config))
    assert revoked.returncode == 0


def test_a_walking_skeleton_database_is_migrated_in_place(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = open_database(url, create=False)
    upgrade(old.engine, "0001")  # the skeleton's tables, exactly as create_all made them
    with old.engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE alembic_version"))
        connection.execute(sa.text("INSERT INTO cameras VALUES ('cam', 'Cam', '', '', '', 1, '2026-01-01')"))
        connection.execute(
            sa.text(
                "INSERT INTO events (uid, type, camera_id, rule_id, zone_id, first_seen_s, triggered_s, evidence, "
                "review_status, occurred_at, created_at) VALUES ('u1', 'illegal_parking', 'cam', 'r', 'z', 0, 20, "
                "'[]', 'pending', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            )
        )
    old.dispose()
    database = open_database(url)
    assert current_revision(database.engine) == HEAD
    with database.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT uid, case_id FROM events")).all() == [("u1", None)]
        assert connection.execute(sa.text("SELECT count(*) FROM cases")).scalar() == 0
    database.dispose()


@pytest.fixture(autouse=True)
def _repo_cwd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
