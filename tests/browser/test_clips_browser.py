"""The console plays an event's clip: Debian's Chromium (Playwright) decodes the H.264 MP4 that the
clip writer made from a camera's packets, signed in with a token (blob:) and with anonymous reads
(the browser's own range requests). The session's Chromium comes from tests/browser/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from api.app import create_app
from citywatch.config import CitywatchConfig
from citywatch.domain.accounts import add_user
from citywatch.domain.cameras import register_cameras
from citywatch.domain.db import open_database
from citywatch.sink import EventSink
from tests.browser.conftest import sign_in
from tests.ledger_support import parking_record
from tests.support import ThreadServer, demo_config_dict
from tests.test_clips import replay_with_ring, synthetic
from vision.record import write_clip

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """(signed-in base URL, anonymous base URL, viewer token) over one event with an H.264 clip."""
    tmp = tmp_path_factory.mktemp("clips-browser")
    data = demo_config_dict(tmp)
    data["api"]["anonymous_read"] = False
    config = CitywatchConfig.model_validate(data)
    database = open_database(config.storage.database_url)
    register_cameras(database, config.cameras)
    sink = EventSink.from_config(config, database)
    record = parking_record()
    sink.record(record)
    _, (clip,) = replay_with_ring(synthetic(tmp, seconds=6), 8.0, {"ev": 3.0}, pre_s=2.0, post_s=2.0)
    name = sink.clip_name(record)
    write_clip(clip, config.storage.recordings_root / name)  # the clip writer's own remux
    sink.attach_clip(record.uid, name)
    with database.session() as session:
        token = add_user(session, "vera", "viewer")
    anonymous = CitywatchConfig.model_validate({**data, "api": {"anonymous_read": True}})
    with ThreadServer(create_app(config, database)) as signed, ThreadServer(create_app(anonymous, database)) as open_:
        yield signed.base, open_.base, token
    sink.close()
    database.dispose()


def played(page) -> dict:  # type: ignore[no-untyped-def]
    """Play the detail's clip and report what the browser decoded."""
    page.wait_for_selector("#event-clip")
    page.wait_for_function("() => document.querySelector('#event-clip').readyState >= 2", timeout=15_000)
    page.evaluate("() => document.querySelector('#event-clip').play()")
    page.wait_for_function("() => document.querySelector('#event-clip').currentTime > 0.5", timeout=15_000)
    return page.evaluate(
        "() => { const v = document.querySelector('#event-clip');"
        " return {w: v.videoWidth, h: v.videoHeight, src: v.currentSrc, error: v.error && v.error.code,"
        " duration: v.duration}; }"
    )


def test_the_console_plays_the_events_h264_clip(served: tuple[str, str, str], browser) -> None:  # type: ignore[no-untyped-def]
    signed, anonymous, token = served
    page = browser.new_page()
    try:
        sign_in(page, signed, token)
        video = played(page)
        assert (video["w"], video["h"], video["error"]) == (320, 240, None)
        assert video["src"].startswith("blob:") and video["duration"] >= 4.0
    finally:
        page.close()
    page = browser.new_page()
    try:
        page.goto(anonymous + "/")
        page.click("#anonymous")  # read without a token: the clip's own URL, ranges by the browser
        video = played(page)
        assert (video["w"], video["h"], video["error"]) == (320, 240, None)
        assert video["src"].endswith("/clip.mp4")
    finally:
        page.close()
