"""The camera page's recordings timeline in Debian's Chromium (Playwright), over real recordings:
a synthetic H.264 camera (25 s, a keyframe each second) is replayed by `citywatch replay` with
continuous recording in 10 s segments, and the app serves their index
(`GET /api/cameras/{id}/recordings`) and files. The timeline draws one block per segment; a click
at a known moment seeks the player there (`currentTime` within a second of the offset, and
advancing); at the end of a segment the next one plays; -10 s steps back across the boundary.

Skipped, saying so, while continuous recording or the recordings route is not in the code yet
(issue #15's backend, built alongside)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import ValidationError

from api.app import create_app
from citywatch.config import CitywatchConfig
from citywatch.domain.accounts import add_user
from citywatch.domain.db import open_database
from tests.browser.conftest import screenshot, sign_in
from tests.support import ThreadServer, demo_config_dict, write_config
from tests.test_clips import synthetic

pytestmark = [pytest.mark.browser, pytest.mark.footage, pytest.mark.timeout(120)]

ZONE = ZoneInfo("Asia/Shanghai")
VIDEO = "document.querySelector('#timeline-video')"


@dataclass(frozen=True)
class Recorded:
    base: str
    token: str
    recordings: list[dict]


def _ms(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000


def record_segments(tmp: Path, data: dict) -> None:
    """Replay the config's cameras once with `citywatch replay` (fast): their recorder writes
    the segments and their index, as a live camera's would."""
    path = write_config(tmp, data)
    subprocess.run(
        [sys.executable, "-m", "citywatch", "replay", "--config", str(path), "--json"],
        check=True,
        timeout=90,
        capture_output=True,
        cwd=tmp,
    )


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    """A served app over three real 10 s segments (10 + 10 + 5 s) of one replayed camera."""
    tmp = tmp_path_factory.mktemp("timeline")
    source = synthetic(tmp, seconds=25)
    data = demo_config_dict(tmp, url=str(source), rules=[], zones=[], record={"continuous": True, "segment_s": 10})
    data["api"]["anonymous_read"] = False
    try:
        config = CitywatchConfig.model_validate(data)
    except ValidationError as exc:
        pytest.skip(f"continuous recording is not in the config yet: {exc.errors()[0]['msg']}")
    if importlib.util.find_spec("api.routes.recordings") is None:
        pytest.skip("GET /api/cameras/{id}/recordings is not in the app yet (the recordings helper's route)")
    record_segments(tmp, data)
    database = open_database(config.storage.database_url)
    with database.session() as session:
        token = add_user(session, "olga", "operator")
    with ThreadServer(create_app(config, database)) as server:
        now = datetime.now(ZONE)
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        answer = httpx.get(
            f"{server.base}/api/cameras/campus-road/recordings",
            params={"start": day.isoformat(), "end": (day + timedelta(days=1)).isoformat()},
            headers={"Authorization": f"Bearer {token}"},
        )
        answer.raise_for_status()
        segments = sorted((r for r in answer.json()["recordings"] if r["kind"] == "segment"), key=lambda r: r["start"])
        assert len(segments) >= 2, answer.json()
        yield Recorded(server.base, token, segments)
    database.dispose()


def _click_at(page, moment_ms: float) -> None:  # type: ignore[no-untyped-def]
    """Click the timeline's track at `moment_ms` (UTC milliseconds) of its current view."""
    track = page.locator("#timeline-track")
    start = float(track.get_attribute("data-from"))
    span = float(track.get_attribute("data-span"))
    box = track.bounding_box()
    page.mouse.click(box["x"] + (moment_ms - start) / span * box["width"], box["y"] + box["height"] - 4)


def test_the_timeline_draws_segments_seeks_and_plays_across_them(recorded: Recorded, console_page) -> None:  # type: ignore[no-untyped-def]
    page = console_page
    first, second = recorded.recordings[0], recorded.recordings[1]
    sign_in(page, recorded.base, recorded.token)
    page.goto(f"{recorded.base}/#/camera/campus-road")
    page.wait_for_selector("#camera-timeline #timeline .tl-rec.segment")
    assert page.locator(".tl-rec.segment").count() == len(recorded.recordings)

    # 24 h: a 10 s block is a sliver; clicking it plays that recording, then zoom to 10 min around it
    page.locator(f'.tl-rec[data-id="{first["id"]}"]').click(force=True)
    page.wait_for_function(f"() => {VIDEO}.dataset.recordingId === '{first['id']}' && {VIDEO}.currentTime > 0")
    page.click('.tl-zoom[data-zoom="10m"]')
    page.wait_for_function("() => document.querySelector('#timeline-track').dataset.span === '600000'")
    page.wait_for_selector(f'.tl-rec[data-id="{second["id"]}"]')

    # a click 4 s into the second segment seeks there (a pixel of 10 min is about half a second)
    _click_at(page, _ms(second["start"]) + 4000)
    page.wait_for_function(f"() => {VIDEO}.dataset.recordingId === '{second['id']}' && !{VIDEO}.seeking")
    at = page.evaluate(f"() => {VIDEO}.currentTime")
    assert 3.0 <= at <= 5.5, at
    page.wait_for_function(f"() => {VIDEO}.currentTime > {at + 0.5}")  # and it plays on

    # the end of a segment goes on to the next one
    page.evaluate(f"() => {{ {VIDEO}.currentTime = {VIDEO}.duration - 0.5; }}")
    third = recorded.recordings[2] if len(recorded.recordings) > 2 else None
    if third is not None:
        page.wait_for_function(f"() => {VIDEO}.dataset.recordingId === '{third['id']}'", timeout=10_000)
        page.wait_for_function(f"() => {VIDEO}.currentTime > 0.3")
        page.click("#timeline-back10")  # back across the boundary into the second segment
        page.wait_for_function(f"() => {VIDEO}.dataset.recordingId === '{second['id']}'")
    screenshot(page, "timeline")
