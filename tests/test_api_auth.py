"""Bearer tokens and roles: `require_role` admits, refuses (401/403) and names the caller."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from api.auth import token_cache
from api.deps import AppContext, require_role
from citywatch.config import CitywatchConfig
from citywatch.domain.accounts import Principal, add_user, authenticate, hash_token, revoke_user
from citywatch.domain.db import open_database
from citywatch.domain.tables import ApiToken
from tests.support import demo_config_dict


@pytest.fixture()
def setup(tmp_path: Path):  # type: ignore[no-untyped-def]
    data = demo_config_dict(tmp_path)
    data["api"] = {"anonymous_read": False}
    config = CitywatchConfig.model_validate(data)
    database = open_database(config.storage.database_url)
    app = FastAPI()
    app.state.context = AppContext(config=config, database=database)

    @app.get("/read")
    def read(user: Annotated[Principal, Depends(require_role("viewer"))]) -> dict:
        return {"name": user.name, "role": user.role}

    @app.put("/mode")
    def mode(user: Annotated[Principal, Depends(require_role("admin"))]) -> dict:
        return {"name": user.name}

    with database.session() as session:
        tokens = {role: add_user(session, f"{role}-user", role) for role in ("viewer", "operator", "admin")}
    yield TestClient(app), tokens, database, config
    database.dispose()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_roles_are_ordered_and_enforced(setup) -> None:  # type: ignore[no-untyped-def]
    client, tokens, _, _ = setup
    assert client.get("/read").status_code == 401
    assert client.get("/read", headers=bearer("not-a-token")).status_code == 401
    assert client.get("/read", headers=bearer(tokens["viewer"])).json() == {
        "name": "viewer-user",
        "role": "viewer",
    }
    assert client.put("/mode", headers=bearer(tokens["operator"])).status_code == 403
    assert client.put("/mode", headers=bearer(tokens["admin"])).json() == {"name": "admin-user"}
    assert client.put("/mode").status_code == 401


def test_tokens_are_stored_hashed_and_revocable(setup) -> None:  # type: ignore[no-untyped-def]
    client, tokens, database, _ = setup
    with database.session() as session:
        stored = set(session.scalars(select(ApiToken.token_hash)))
        assert hash_token(tokens["admin"]) in stored and tokens["admin"] not in stored
        assert len(tokens["admin"]) >= 43
        assert revoke_user(session, "admin-user")
    with database.session() as session:
        assert authenticate(session, tokens["admin"]) is None
    assert client.put("/mode", headers=bearer(tokens["admin"])).status_code == 401


def test_the_token_cache_expires_and_never_keeps_bad_tokens(setup) -> None:  # type: ignore[no-untyped-def]
    """A token revoked by another process (`citywatch users revoke`) works here until this app's
    cached check of it expires, never longer."""
    client, tokens, database, _ = setup
    cache = token_cache(client.app.state.context.extras)
    cache.ttl_s = 0.3
    assert client.get("/read", headers=bearer(tokens["viewer"])).status_code == 200
    with database.session() as session:
        assert revoke_user(session, "viewer-user")
    assert client.get("/read", headers=bearer(tokens["viewer"])).status_code == 200  # cached
    time.sleep(0.35)
    assert client.get("/read", headers=bearer(tokens["viewer"])).status_code == 401  # expired → looked up
    assert client.get("/read", headers=bearer(tokens["viewer"])).status_code == 401  # refusals are not cached
    assert cache.lookup(database, "not-a-token") is None and len(cache._entries) == 0


def test_anonymous_read_by_config(tmp_path: Path) -> None:
    config = CitywatchConfig.model_validate(demo_config_dict(tmp_path))
    assert config.api.anonymous_read is True  # the demo opens reads ("open the API and see the event")
    database = open_database(config.storage.database_url)
    app = FastAPI()
    app.state.context = AppContext(config=config, database=database)

    @app.get("/read")
    def read(user: Annotated[Principal, Depends(require_role("viewer"))]) -> dict:
        return {"name": user.name}

    @app.post("/write")
    def write(user: Annotated[Principal, Depends(require_role("operator"))]) -> dict:
        return {"name": user.name}

    client = TestClient(app)
    assert client.get("/read").json() == {"name": "anonymous"}
    assert client.post("/write").status_code == 401
    database.dispose()


def test_admins_manage_users_over_http(tmp_path: Path) -> None:
    config = CitywatchConfig.model_validate(demo_config_dict(tmp_path))
    database = open_database(config.storage.database_url)
    with database.session() as session:
        admin, operator = add_user(session, "root", "admin"), add_user(session, "op", "operator")
    client = TestClient(create_app(config, database))
    assert client.get("/api/users", headers=bearer(operator)).status_code == 403
    assert client.get("/api/users").status_code == 401  # anonymous read does not cover users
    created = client.post("/api/users", json={"name": "wang.li", "role": "viewer"}, headers=bearer(admin))
    assert created.status_code == 201 and created.json()["role"] == "viewer"
    token = created.json()["token"]
    assert client.get("/api/cases", headers=bearer(token)).status_code == 200
    assert client.post("/api/users", json={"name": "x", "role": "root"}, headers=bearer(admin)).status_code == 422
    listed = {u["name"]: u for u in client.get("/api/users", headers=bearer(admin)).json()}
    assert listed["wang.li"] == {"name": "wang.li", "role": "viewer", "disabled": False, "tokens": 1}
    assert client.delete("/api/users/wang.li", headers=bearer(admin)).status_code == 204
    assert client.get("/api/cases", headers=bearer(token)).status_code == 401
    assert client.delete("/api/users/nobody", headers=bearer(admin)).status_code == 404
    database.dispose()
