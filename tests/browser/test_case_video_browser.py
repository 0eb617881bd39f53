"""The case page's video in Debian's Chromium (Playwright): the clips of the case's events play
(`currentTime` advances), an operator exports a range of the camera to the case and the export
then plays, and a viewer sees no export control. The event's H.264 clip is made by the clip
writer from a synthetic camera (tests/test_clips.py), as in test_clips_browser.py; the export
goes through the real `POST /api/cases/{id}/exports` (skipped, saying so, while that route is
not in the app); the segments it cuts are recorded by `citywatch replay` as in test_timeline_browser."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from api.app import create_app
from citywatch.config import CitywatchConfig
from citywatch.domain.accounts import add_user
from citywatch.domain.cameras import register_cameras
from citywatch.domain.db import open_database
from citywatch.sink import EventSink
from tests.browser.conftest import screenshot, sign_in
from tests.browser.test_timeline_browser import record_segments
from tests.ledger_support import parking_record
from tests.support import ThreadServer, demo_config_dict
from tests.test_clips import replay_with_ring, synthetic
from vision.record import write_clip

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]


@dataclass(frozen=True)
class Served:
    base: str
    operator: str
    viewer: str
    case_id: int
    event_id: int
    exports: bool  # whether the app has the recordings routes (api/routes/recordings.py)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A signed-in app over one case whose event has an H.264 clip; an operator's and a viewer's token."""
    tmp = tmp_path_factory.mktemp("case-video")
    data = demo_config_dict(tmp, url=str(synthetic(tmp, seconds=25)))
    data["api"]["anonymous_read"] = False
    exports = importlib.util.find_spec("api.routes.recordings") is not None
    if exports:  # real segments of the case's camera, just before its event: what an export cuts
        data["cameras"][0]["record"] = {"continuous": True, "segment_s": 10}
        record_segments(tmp, data)
    config = CitywatchConfig.model_validate(data)
    database = open_database(config.storage.database_url)
    register_cameras(database, config.cameras)
    sink = EventSink.from_config(config, database)
    record = parking_record()
    sink.record(record)
    _, (clip,) = replay_with_ring(synthetic(tmp, seconds=6), 8.0, {"ev": 3.0}, pre_s=2.0, post_s=2.0)
    name = sink.clip_name(record)
    write_clip(clip, config.storage.recordings_root / name)
    sink.attach_clip(record.uid, name)
    with database.session() as session:
        operator = add_user(session, "olga", "operator")
        viewer = add_user(session, "vera", "viewer")
    with ThreadServer(create_app(config, database)) as server:
        event = httpx.get(f"{server.base}/api/events", headers={"Authorization": f"Bearer {viewer}"}).json()
        first = (event["items"] if isinstance(event, dict) else event)[0]
        assert first["case_id"], "the event opened a case"
        yield Served(server.base, operator, viewer, first["case_id"], first["id"], exports)
    sink.close()
    database.dispose()


def advances(page, selector: str) -> dict:  # type: ignore[no-untyped-def]
    """Play the <video> at `selector` until currentTime passes 0.5 s; what the browser decoded."""
    page.wait_for_selector(selector)
    page.wait_for_function(f"() => document.querySelector('{selector}').readyState >= 2", timeout=15_000)
    page.evaluate(f"() => document.querySelector('{selector}').play()")
    page.wait_for_function(f"() => document.querySelector('{selector}').currentTime > 0.5", timeout=15_000)
    return page.evaluate(
        f"() => {{ const v = document.querySelector('{selector}');"
        " return {w: v.videoWidth, h: v.videoHeight, error: v.error && v.error.code, src: v.currentSrc}; }"
    )


def test_the_case_page_plays_its_events_clip_and_a_viewer_has_no_export(served: Served, console_page) -> None:  # type: ignore[no-untyped-def]
    page = console_page
    sign_in(page, served.base, served.viewer)
    page.goto(f"{served.base}/#/case/{served.case_id}")
    page.wait_for_selector("#case-page")
    video = advances(page, f"#case-clip-{served.event_id}")
    assert (video["w"], video["h"], video["error"]) == (320, 240, None)
    assert video["src"].startswith("blob:")  # fetched with the token
    assert page.locator("#export-form").count() == 0  # a viewer never gets the export control
    assert page.inner_text("#case-exports-empty")  # and an empty list says so
    screenshot(page, "case-video")


def test_an_operator_exports_a_range_to_the_case_and_it_plays(served: Served, console_page) -> None:  # type: ignore[no-untyped-def]
    if not served.exports:
        pytest.skip("POST /api/cases/{id}/exports is not in the app yet (api/routes/recordings.py)")
    page = console_page
    sign_in(page, served.base, served.operator)
    page.goto(f"{served.base}/#/case/{served.case_id}")
    page.wait_for_selector("#export-form")
    assert page.input_value("#export-camera") == "campus-road"  # the case's camera by default
    page.click("#btn-export")
    page.wait_for_selector("#case-exports figure")
    export_id = page.get_attribute("#case-exports figure", "data-id")
    video = advances(page, f"#export-video-{export_id}")
    assert video["error"] is None and video["w"] > 0
    case = httpx.get(
        f"{served.base}/api/cases/{served.case_id}", headers={"Authorization": f"Bearer {served.viewer}"}
    ).json()
    assert [str(x["id"]) for x in case["exports"]] == [export_id]
