"""Browser-test fixtures: Debian's Chromium through Playwright and a console page that fails the
test on any JavaScript error or any request off localhost; helpers to sign in and take screenshots.
The servers to point it at are tests.support's ThreadServer and CitywatchProcess.

Never `playwright install`: the browser is /usr/bin/chromium (scripts/install-system-deps.sh).
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support import REPO

try:
    from PIL import Image
except ImportError:  # optional: without Pillow, screenshots are saved as Chromium writes them
    Image = None

CHROMIUM = Path(os.environ.get("CITYWATCH_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Screenshots are written to docs/screenshots only with CITYWATCH_UPDATE_SCREENSHOTS=1 (so a test
#: run leaves the checkout clean); otherwise to a temporary folder, checked all the same.
DOC_SCREENSHOTS = REPO / "docs" / "screenshots"
SCREENSHOT_MAX_BYTES = 300_000
VIEWPORT = {"width": 1280, "height": 800}
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


class PageGuard:
    """Collects JavaScript errors, console errors and off-localhost requests of a page."""

    def __init__(self, page) -> None:  # type: ignore[no-untyped-def]
        self.page = page
        self.problems: list[str] = []
        self.allowed: set[tuple[str, int]] = set()
        page.on("pageerror", lambda error: self.problems.append(f"pageerror: {error}"))
        page.on("console", self._console)
        page.on("request", self._request)

    def allow_status(self, url_path: str, status: int) -> None:
        """Tolerate the browser's console error for an answer the test provokes on purpose
        (e.g. a 409 for a duplicate ticket, which the page must show as a message)."""
        self.allowed.add((url_path, status))

    def _console(self, message) -> None:  # type: ignore[no-untyped-def]
        if message.type != "error":
            return
        url = message.location.get("url") or ""
        path = urlsplit(url).path
        if any(path == allowed and f"status of {status}" in message.text for allowed, status in self.allowed):
            return
        self.problems.append(f"console error: {message.text} at {url}")

    def _request(self, request) -> None:  # type: ignore[no-untyped-def]
        parts = urlsplit(request.url)
        if parts.scheme in ("data", "blob"):
            return
        if parts.hostname not in LOCAL_HOSTS:
            self.problems.append(f"request off localhost: {request.url}")

    def check(self) -> None:
        assert not self.problems, "\n".join(self.problems)


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} missing: run scripts/install-system-deps.sh (never `playwright install`)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]' (playwright)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def console_page(browser) -> Iterator:  # type: ignore[no-untyped-def]
    """A fresh 1280x800 page (zh-CN, Asia/Shanghai); the test fails on JS errors or remote requests."""
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(15_000)
    page = context.new_page()
    guard = PageGuard(page)
    page.guard = guard
    yield page
    context.close()
    guard.check()


def sign_in(page, base: str, token: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base + "/")
    page.wait_for_selector("#username")  # the sign-in page: a username and password first
    if not page.is_visible("#token"):
        page.click(".signin-token summary")  # an access token is the folded alternative
    page.fill("#token", token)
    page.click("#signin")
    page.wait_for_selector("#topbar:not([hidden])")


def screenshot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    """Save NAME.png (docs/screenshots with CITYWATCH_UPDATE_SCREENSHOTS=1), reduced to a
    256-colour palette so it stays small."""
    if os.environ.get("CITYWATCH_UPDATE_SCREENSHOTS") == "1":
        folder = DOC_SCREENSHOTS
    else:
        folder = Path(tempfile.gettempdir()) / "citywatch-screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.evaluate("document.getElementById('toasts')?.replaceChildren()")
    data = page.screenshot()
    if Image is not None:
        image = Image.open(io.BytesIO(data)).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        image.save(path, optimize=True)
    else:
        path.write_bytes(data)
    assert path.stat().st_size < SCREENSHOT_MAX_BYTES, f"{path} is {path.stat().st_size} bytes"
    return path
