"""Screenshots of every console page (issue #17) at 1280x720 and 1920x1080, in Debian's Chromium,
over the zh-CN walk's data: the navigation's pages as found at run time and the case, camera and
vehicle pages. Written to docs/screenshots/<page>-<w>x<h>.png with CITYWATCH_UPDATE_SCREENSHOTS=1,
else to a temporary folder; each must be a real picture (not blank) under the size limit."""

from __future__ import annotations

import pytest

from tests.browser.conftest import screenshot, sign_in
from tests.browser.test_zh_walk_browser import World, pages, wait_drawn, world  # noqa: F401 (world: a fixture)

Image = pytest.importorskip("PIL.Image", reason="Pillow checks that a screenshot is not blank")

pytestmark = [pytest.mark.browser, pytest.mark.footage, pytest.mark.timeout(300)]
SIZES = [(1280, 720), (1920, 1080)]


def not_blank(path) -> None:  # type: ignore[no-untyped-def]
    """A page drawn: many colours, and light and dark both (a blank or one-colour page has neither)."""
    with Image.open(path) as image:
        grey = image.convert("L")
        low, high = grey.getextrema()
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    assert high - low > 100, f"{path}: no contrast ({low}..{high})"
    assert colours is None or len(colours) > 16, f"{path}: only {len(colours)} colours"


def test_every_page_photographed(world: World, console_page) -> None:  # noqa: F811  # type: ignore[no-untyped-def]
    page = console_page
    sign_in(page, world.base, world.ledger.tokens["admin"])  # an admin's console has every page
    targets = pages(page, world)
    taken = []
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        for name, target in targets:
            page.goto(f"{world.base}/{target}")
            wait_drawn(page)
            path = screenshot(page, f"{name}-{width}x{height}")
            not_blank(path)
            taken.append(path.name)
    assert len(taken) == len(set(taken)) == 2 * len(targets)
    page.goto("about:blank")


def test_layout_fits_1024_and_signin_has_no_top_bar(world: World, browser) -> None:  # noqa: F811  # type: ignore[no-untyped-def]
    """At 1024x768 the top bar stays one line (no link wraps a character per line), no page is wider
    than the window (tables scroll inside their box), and a dialog fits; the sign-in page shows no
    top bar and no 退出."""
    context = browser.new_context(viewport={"width": 1024, "height": 768}, locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    try:
        page.goto(world.base + "/")
        page.wait_for_selector("#username")
        assert not page.is_visible("#topbar") and not page.is_visible("#signout")
        assert "退出" not in page.inner_text("body")
        sign_in(page, world.base, world.ledger.tokens["operator"])
        for name, target in pages(page, world):
            page.goto(f"{world.base}/{target}")
            wait_drawn(page)
            bar = page.evaluate("""() => ({
              bar: document.getElementById("topbar").getBoundingClientRect().height,
              links: [...document.querySelectorAll("#nav a")]
                .map((a) => [a.innerText, a.getBoundingClientRect().height]),
              page: document.documentElement.scrollWidth,
            })""")
            assert bar["bar"] <= 50, (name, bar)
            assert all(height <= 50 for _, height in bar["links"]), (name, bar["links"])
            assert bar["page"] <= 1024, f"{name}: the page is {bar['page']} px wide at 1024"
        page.click("#mode")
        page.wait_for_selector("dialog[open]")
        box = page.locator("dialog[open]").bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 1024 and box["height"] <= 768
        page.keyboard.press("Escape")
        page.goto("about:blank")
    finally:
        context.close()
