"""Browser-test fixtures: Debian's Chromium through Playwright, a console page that fails the test
on any JavaScript error or any request off localhost, and servers to point it at.

Never `playwright install`: the browser is /usr/bin/chromium (scripts/install-system-deps.sh).
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn

CHROMIUM = Path(os.environ.get("CITYWATCH_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
#: Screenshots are written to docs/screenshots only with CITYWATCH_UPDATE_SCREENSHOTS=1 (so a test
#: run leaves the checkout clean); otherwise to a temporary folder, checked all the same.
DOC_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SCREENSHOT_MAX_BYTES = 300_000
VIEWPORT = {"width": 1280, "height": 800}
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(base: str, timeout_s: float = 60.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{base} did not become healthy")


class ThreadServer:
    """A FastAPI app served by uvicorn in a thread on a free localhost port."""

    def __init__(self, app) -> None:  # type: ignore[no-untyped-def]
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    timeout_graceful_shutdown=1))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        wait_healthy(self.base, 20)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


class CitywatchProcess:
    """`citywatch run --config FILE --port N` in a subprocess (pipeline + API in one process)."""

    def __init__(self, config_path: Path, log_path: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(log_path, "wb")  # noqa: SIM115  (closed in __exit__)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "citywatch.cli", "run", "--config", str(config_path), "--port", str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[2])

    def __enter__(self) -> CitywatchProcess:
        wait_healthy(self.base, 60, self.process)
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.log.close()


class PageGuard:
    """Collects JavaScript errors, console errors and off-localhost requests of a page."""

    def __init__(self, page) -> None:  # type: ignore[no-untyped-def]
        self.page = page
        self.problems: list[str] = []
        self.allowed: set[tuple[str, int]] = set()
        page.on("pageerror", lambda error: self.problems.append(f"pageerror: {error}"))
        page.on("console", self._console)
        page.on("request", self._request)

    def allow_missing(self, url_path: str) -> None:
        """Tolerate a 404 from an endpoint another module has not shipped yet."""
        self.allow_status(url_path, 404)

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
    try:
        from PIL import Image

        image = Image.open(io.BytesIO(data)).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        image.save(path, optimize=True)
    except ImportError:
        path.write_bytes(data)
    assert path.stat().st_size < SCREENSHOT_MAX_BYTES, f"{path} is {path.stat().st_size} bytes"
    return path
