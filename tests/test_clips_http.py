"""`GET /api/events/{id}/clip.mp4` over real HTTP (uvicorn, SQLite): range requests, path safety
(nothing outside `storage.recordings_dir`, symbolic links included), roles, and `clip_url`."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import update

from api.app import create_app
from citywatch.config import CitywatchConfig
from citywatch.domain.accounts import add_user
from citywatch.domain.cameras import register_cameras
from citywatch.domain.db import open_database
from citywatch.domain.tables import Event
from citywatch.sink import EventSink
from tests.ledger_support import parking_record
from tests.support import ThreadServer, demo_config_dict


@dataclass
class Site:
    base: str
    open_base: str  # the same database served with anonymous reads on
    ids: dict[str, int]
    clip: bytes
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("clips-http")
    data = demo_config_dict(tmp)
    data["api"]["anonymous_read"] = False
    config = CitywatchConfig.model_validate(data)
    database = open_database(config.storage.database_url)
    register_cameras(database, config.cameras)
    sink = EventSink.from_config(config, database)
    root = config.storage.recordings_root
    records = {name: parking_record(i=i) for i, name in enumerate(("clip", "none", "dotdot", "link", "absolute"))}
    ids = {name: sink.record(record)["id"] for name, record in records.items()}
    clip_name = sink.clip_name(records["clip"])
    (root / clip_name).parent.mkdir(parents=True)
    subprocess.run(  # a real little MP4, as a camera's clip would be
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=160x120:rate=10",
            "-t",
            "3",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-movflags",
            "+faststart",
            str(root / clip_name),
        ],
        check=True,
        timeout=60,
    )
    sink.attach_clip(records["clip"].uid, clip_name)
    secret = tmp / "outside.mp4"
    secret.write_bytes(b"not for the API " * 100)
    (root / "campus-road" / "link.mp4").symlink_to(secret)
    hostile = {"dotdot": "../outside.mp4", "link": "campus-road/link.mp4", "absolute": str(secret)}
    with database.session() as session:
        for name, path in hostile.items():  # paths no sink writes, as a tampered database might hold
            session.execute(update(Event).where(Event.uid == records[name].uid).values(clip=path))
        tokens = {"viewer": add_user(session, "vera", "viewer"), "operator": add_user(session, "otto", "operator")}
    open_config = CitywatchConfig.model_validate({**data, "api": {"anonymous_read": True}})
    with ThreadServer(create_app(config, database)) as closed, ThreadServer(create_app(open_config, database)) as open_:
        yield Site(closed.base, open_.base, ids, (root / clip_name).read_bytes(), tokens)
    sink.close()
    database.dispose()


def get(site: Site, path: str, role: str | None = "viewer", **headers: str) -> httpx.Response:
    if role is not None:
        headers["Authorization"] = f"Bearer {site.tokens[role]}"
    return httpx.get(f"{site.base}{path}", headers=headers)


def test_the_clip_is_served_whole_and_by_ranges(site: Site) -> None:
    url, size = f"/api/events/{site.ids['clip']}/clip.mp4", len(site.clip)
    whole = get(site, url)
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    assert whole.headers["accept-ranges"] == "bytes" and whole.content == site.clip
    head = get(site, url, Range="bytes=0-99")
    assert head.status_code == 206 and head.headers["content-range"] == f"bytes 0-99/{size}"
    assert head.content == site.clip[:100] and head.headers["content-length"] == "100"
    rest = get(site, url, Range="bytes=100-")
    assert rest.status_code == 206 and rest.content == site.clip[100:]
    assert rest.headers["content-range"] == f"bytes 100-{size - 1}/{size}"
    tail = get(site, url, Range="bytes=-50")
    assert tail.status_code == 206 and tail.content == site.clip[-50:]
    beyond = get(site, url, Range=f"bytes={size}-{size + 10}")
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{size}"
    backwards = get(site, url, Range="bytes=50-10")
    assert backwards.status_code in (400, 416) and not backwards.content.startswith(site.clip[:10])


@pytest.mark.parametrize("name", ["dotdot", "link", "absolute"])
def test_no_file_outside_the_recordings_directory_is_served(site: Site, name: str) -> None:
    response = get(site, f"/api/events/{site.ids[name]}/clip.mp4")
    assert response.status_code == 404 and b"not for the API" not in response.content


def test_events_without_a_clip_and_unknown_events_are_404(site: Site) -> None:
    assert get(site, f"/api/events/{site.ids['none']}/clip.mp4").json() == {
        "detail": f"event {site.ids['none']} has no clip"
    }
    assert get(site, "/api/events/999999/clip.mp4").status_code == 404


def test_viewers_watch_and_anonymous_reads_follow_the_config(site: Site) -> None:
    url = f"/api/events/{site.ids['clip']}/clip.mp4"
    assert get(site, url, role=None).status_code == 401
    assert httpx.get(f"{site.base}{url}", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert get(site, url, role="viewer").status_code == 200 and get(site, url, role="operator").status_code == 200
    anonymous = httpx.get(f"{site.open_base}{url}", headers={"Range": "bytes=0-9"})
    assert anonymous.status_code == 206 and anonymous.content == site.clip[:10]


def test_the_event_json_carries_clip_url_when_a_clip_exists(site: Site) -> None:
    with_clip = get(site, f"/api/events/{site.ids['clip']}").json()
    assert with_clip["clip_url"] == f"/api/events/{site.ids['clip']}/clip.mp4"
    assert get(site, f"/api/events/{site.ids['none']}").json()["clip_url"] is None
    listed = {item["id"]: item["clip_url"] for item in get(site, "/api/events").json()["items"]}
    assert listed[site.ids["clip"]] == with_clip["clip_url"] and listed[site.ids["none"]] is None
    assert "clip" not in with_clip  # the stored path is never shown, only the URL
