"""The console when the server goes away and comes back (issue #17), in a real browser.

The server stops under a signed-in page: within 5 s a banner says the connection is lost, the page
is marked stale and a review does not reach the network. The server starts again on the same port
with an alert recorded meanwhile: the banner goes, and the title and the queue show both alerts,
without a reload.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from api.app import create_app
from tests.browser.conftest import screenshot, sign_in
from tests.ledger_support import Ledger, make_ledger
from tests.support import ThreadServer, free_port

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


def serve_on(ledger: Ledger, port: int) -> ThreadServer:
    """A ThreadServer over a fresh app of `ledger`, on `port` (so the page can find it again)."""
    server = ThreadServer(create_app(ledger.config, ledger.database))
    server.port = port
    server.base = f"http://127.0.0.1:{port}"
    server.server = uvicorn.Server(
        uvicorn.Config(
            server.server.config.app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1
        )
    )
    server.thread = threading.Thread(target=server.server.run, daemon=True)
    return server


@pytest.fixture()
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    built = make_ledger(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}")
    yield built
    built.sink.close()
    built.database.dispose()


def test_outage_banner_and_recovery(console_page, ledger: Ledger) -> None:  # type: ignore[no-untyped-def]
    page = console_page
    port = free_port()
    ledger.event()  # each alert in a place (zone) of its own: one case, one review item each
    first = serve_on(ledger, port).__enter__()
    try:
        sign_in(page, first.base, ledger.tokens["operator"])
        page.wait_for_selector("#event-list .event-row")
        page.wait_for_function("() => document.title.startsWith('(1) ')", timeout=5_000)
        assert page.title() == "(1) 城管智能巡查"
        page.wait_for_selector("#live.on")
        assert page.get_attribute("body", "data-connection") == "ok"
        assert not page.is_visible("#connection-banner")
    finally:
        outage_from = len(page.guard.problems)
        started = time.monotonic()  # the 5 s count from the server starting to stop
        first.__exit__()

    reviews: list[str] = []
    page.on("request", lambda request: "/review" in request.url and reviews.append(request.url))
    page.wait_for_selector("#connection-banner", state="visible", timeout=5_000)
    assert time.monotonic() - started < 5
    banner = page.inner_text("#connection-banner")
    assert "与服务器的连接已断开，正在重试… 页面数据可能已过期" in banner
    assert "上次成功连接" in banner
    assert page.get_attribute("#connection-banner", "role") == "alert"
    assert page.get_attribute("body", "data-connection") == "lost"
    assert page.evaluate("getComputedStyle(document.getElementById('main')).opacity") == "0.5"
    # the button takes no click, and the keyboard's review fails at once with a clear message
    assert page.evaluate("getComputedStyle(document.getElementById('btn-confirm')).pointerEvents") == "none"
    page.click("#btn-confirm", force=True)
    page.keyboard.press("c")
    page.wait_for_selector(".toast.error:has-text('无法连接服务器')", timeout=3_000)
    assert "Failed to fetch" not in page.inner_text("#toasts")
    assert reviews == []
    screenshot(page, "connection-lost")

    second_event = ledger.event(zone="kerb-2")  # recorded while the console could not see it
    second = serve_on(ledger, port).__enter__()
    try:
        page.wait_for_selector("#connection-banner", state="hidden", timeout=10_000)
        assert page.get_attribute("body", "data-connection") == "ok"
        page.wait_for_function("() => document.title.startsWith('(2) ')", timeout=10_000)
        page.wait_for_selector(f"#event-{second_event['id']}", timeout=10_000)
        assert page.locator("#event-list .event-row").count() == 2
        page.wait_for_selector("#live.on", timeout=10_000)
        # the expected network errors of the outage, and nothing else, are forgiven
        during = page.guard.problems[outage_from:]
        del page.guard.problems[outage_from:]
        page.guard.problems.extend(p for p in during if "net::ERR_" not in p)

        # live again: a review goes through and the title follows it
        page.click(f"#event-{second_event['id']}")
        page.click("#btn-confirm")
        page.wait_for_function("() => document.title.startsWith('(1) ')", timeout=5_000)
        assert reviews
        third = ledger.event(zone="kerb-3")
        page.wait_for_selector(f"#event-{third['id']}", timeout=10_000)
        page.wait_for_function("() => document.title.startsWith('(2) ')", timeout=5_000)
    finally:
        page.goto("about:blank")  # leave before the server stops: its going is not under test here
        second.__exit__()
