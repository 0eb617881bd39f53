"""Signing in to the console with a username and password (issue #17's sessions), in Debian's
Chromium: a wrong password says so in Chinese, the right one opens the console on a session token
kept for this tab only (sessionStorage, never localStorage), a reload stays signed in, and 退出
ends the session on the server too (its token then answers 401)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from citywatch.config import CitywatchConfig
from citywatch.domain.accounts import add_user
from citywatch.domain.cameras import register_cameras
from citywatch.domain.db import open_database
from citywatch.domain.sessions import set_password
from tests.browser.conftest import screenshot
from tests.support import ThreadServer, demo_config_dict

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]
PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Served:
    base: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp: Path = tmp_path_factory.mktemp("signin")
    data = demo_config_dict(tmp)
    data["api"]["anonymous_read"] = False
    config = CitywatchConfig.model_validate(data)
    database = open_database(config.storage.database_url)
    register_cameras(database, config.cameras)
    with database.session() as session:
        add_user(session, "zhang.wei", "operator")
        set_password(session, "zhang.wei", PASSWORD)
    with ThreadServer(create_app(config, database)) as server:
        yield Served(server.base)
    database.dispose()


def test_a_password_sign_in_is_a_session_of_this_tab_and_sign_out_ends_it(served: Served, console_page) -> None:  # type: ignore[no-untyped-def]
    page = console_page
    page.guard.allow_status("/api/session", 401)  # the wrong password below
    page.goto(served.base + "/")
    page.fill("#username", "zhang.wei")
    page.fill("#password", "not the password")
    page.click("#signin-password")
    page.wait_for_function("() => document.querySelector('.signin .error').textContent.length > 0")
    assert page.inner_text(".signin .error") == "用户名或密码错误"
    assert not page.is_visible("#token")  # the access token is the folded alternative
    assert not page.is_visible("#topbar") and not page.is_visible("#signout")  # no header before sign-in
    screenshot(page, "signin")

    page.fill("#password", PASSWORD)
    page.click("#signin-password")
    page.wait_for_selector("#topbar:not([hidden])")
    assert "zhang.wei" in page.inner_text("#user")
    stored = page.evaluate("() => [sessionStorage.getItem('cw.session'), localStorage.getItem('cw.token')]")
    token = stored[0]
    assert token and stored[1] is None
    assert httpx.get(f"{served.base}/api/console/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    page.reload()
    page.wait_for_selector("#topbar:not([hidden])")  # still signed in after a reload

    page.click("#signout")
    page.wait_for_selector("#username")
    assert page.evaluate("() => sessionStorage.getItem('cw.session')") is None
    deadline = 50
    while (
        deadline
        and httpx.get(f"{served.base}/api/console/me", headers={"Authorization": f"Bearer {token}"}).status_code != 401
    ):
        page.wait_for_timeout(100)
        deadline -= 1
    assert deadline, "the server still accepts the signed-out session's token"
