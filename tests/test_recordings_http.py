"""The recordings over HTTP, on real segments written by `citywatch replay` (continuous recording
of a synthetic H.264 camera, indexed as it records): the timeline's listing, each recording's MP4
with range requests, path safety (a row leading out of the recordings directory, by `..` or a
symbolic link, is never served), roles (viewers watch, only operators export), an export across
two segments that plays with the source's codec and size and is attached to the case with its
audit line, retention that never deletes what an open case cites, and the index reconciled
with the disk."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from citywatch.config import CitywatchConfig
from citywatch.domain.accounts import add_user
from citywatch.domain.cameras import register_cameras
from citywatch.domain.db import Database, open_database
from citywatch.domain.tables import Case, CaseAction, Event, Recording
from citywatch.recordings.index import reconcile
from citywatch.recordings.maintainer import Maintainer
from citywatch.sink import EventSink
from tests.browser.test_timeline_browser import record_segments
from tests.ledger_support import parking_record
from tests.support import demo_config_dict
from tests.test_clips import synthetic

pytestmark = [pytest.mark.footage, pytest.mark.timeout(120)]
CAMERA = "campus-road"


@dataclass
class Served:
    client: TestClient
    config: CitywatchConfig
    database: Database
    viewer: dict[str, str]
    operator: dict[str, str]
    case_id: int
    segments: list[dict]

    @property
    def root(self) -> Path:
        return self.config.storage.recordings_root


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Three real segments (10 + 10 + 5 s) of one camera, one open case, a viewer and an operator."""
    tmp = tmp_path_factory.mktemp("recordings-http")
    data = demo_config_dict(tmp, url=str(synthetic(tmp, seconds=25)), record={"continuous": True, "segment_s": 10})
    data["api"]["anonymous_read"] = False
    record_segments(tmp, data)
    config = CitywatchConfig.model_validate(data)
    database = open_database(config.storage.database_url)
    register_cameras(database, config.cameras)
    sink = EventSink.from_config(config, database)
    sink.record(parking_record())
    sink.close()
    with database.session() as session:
        viewer = add_user(session, "vera", "viewer")
        operator = add_user(session, "olga", "operator")
        case_id = session.scalars(select(Case.id)).one()
    client = TestClient(create_app(config, database), raise_server_exceptions=False)
    day = datetime.now(UTC) - timedelta(hours=12)
    listing = client.get(
        f"/api/cameras/{CAMERA}/recordings",
        params={"start": day.isoformat(), "end": (day + timedelta(days=1)).isoformat()},
        headers={"Authorization": f"Bearer {viewer}"},
    )
    assert listing.status_code == 200, listing.text
    segments = [r for r in listing.json()["recordings"] if r["kind"] == "segment"]
    yield Served(
        client,
        config,
        database,
        {"Authorization": f"Bearer {viewer}"},
        {"Authorization": f"Bearer {operator}"},
        case_id,
        segments,
    )
    client.close()
    database.dispose()


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_the_listing_gives_contiguous_indexed_segments_and_refuses_bad_ranges(served: Served) -> None:
    segments = served.segments
    assert [round(s["duration_s"]) for s in segments] == [10, 10, 5]
    for earlier, later in itertools.pairwise(segments):
        assert abs((_at(later["start"]) - _at(earlier["end"])).total_seconds()) < 0.2  # no gap, no overlap
    assert all(s["bytes"] > 0 and s["url"] == f"/api/recordings/{s['id']}/video.mp4" for s in segments)
    start = _at(segments[0]["start"])
    ask = {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}
    assert served.client.get("/api/cameras/nowhere/recordings", params=ask, headers=served.viewer).status_code == 404
    naive = {"start": "2026-12-01T00:00:00", "end": "2026-12-01T01:00:00"}
    assert (
        served.client.get(f"/api/cameras/{CAMERA}/recordings", params=naive, headers=served.viewer).status_code == 422
    )
    week = {"start": ask["start"], "end": (start + timedelta(days=8)).isoformat()}
    assert served.client.get(f"/api/cameras/{CAMERA}/recordings", params=week, headers=served.viewer).status_code == 422
    assert served.client.get(f"/api/cameras/{CAMERA}/recordings", params=ask).status_code == 401
    empty = {"start": "2020-01-01T00:00:00+00:00", "end": "2020-01-02T00:00:00+00:00"}
    answer = served.client.get(f"/api/cameras/{CAMERA}/recordings", params=empty, headers=served.viewer)
    assert answer.status_code == 200 and answer.json()["recordings"] == []


def test_a_recording_is_served_with_ranges(served: Served) -> None:
    first = served.segments[0]
    whole = served.client.get(first["url"], headers=served.viewer)
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    assert len(whole.content) == first["bytes"]
    part = served.client.get(first["url"], headers={**served.viewer, "Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == whole.content[100:200]
    beyond = served.client.get(first["url"], headers={**served.viewer, "Range": f"bytes={first['bytes'] + 10}-"})
    assert beyond.status_code == 416
    assert served.client.get("/api/recordings/999999/video.mp4", headers=served.viewer).status_code == 404
    assert served.client.get(first["url"]).status_code == 401


def test_no_file_outside_the_recordings_directory_is_served(served: Served, tmp_path: Path) -> None:
    secret = tmp_path / "secret.mp4"
    secret.write_bytes(b"not yours")
    link = served.root / CAMERA / "link.mp4"
    link.symlink_to(secret)
    relative = Path("..") / Path(*([".."] * len(served.root.parts))) / secret.relative_to("/")
    rows = []
    try:
        with served.database.session() as session:
            for path in (str(relative), f"{CAMERA}/link.mp4", str(secret)):
                row = Recording(
                    camera_id=CAMERA, kind="segment", path=path, start_at=datetime(2020, 1, 1, tzinfo=UTC),
                    end_at=datetime(2020, 1, 1, 0, 0, 1, tzinfo=UTC), duration_s=1.0, bytes=9,
                )  # fmt: skip
                session.add(row)
                session.flush()
                rows.append(row.id)
        for row_id in rows:
            answer = served.client.get(f"/api/recordings/{row_id}/video.mp4", headers=served.viewer)
            assert answer.status_code == 404 and b"not yours" not in answer.content
    finally:
        link.unlink()
        with served.database.session() as session:
            for row_id in rows:
                session.delete(session.get(Recording, row_id))


def test_viewers_watch_only_operators_export_and_the_export_plays(served: Served) -> None:
    first, second = served.segments[0], served.segments[1]
    start, end = _at(first["start"]) + timedelta(seconds=6), _at(second["start"]) + timedelta(seconds=4)
    body = {"camera_id": CAMERA, "start": start.isoformat(), "end": end.isoformat()}
    url = f"/api/cases/{served.case_id}/exports"
    assert served.client.post(url, json=body, headers=served.viewer).status_code == 403
    assert served.client.post(url, json=body).status_code == 401
    made = served.client.post(url, json=body, headers=served.operator)
    assert made.status_code == 201, made.text
    export = made.json()
    video = served.client.get(export["url"], headers=served.viewer)
    assert video.status_code == 200 and len(video.content) == export["bytes"]
    with av.open(str(served.root / _row(served, export["id"]).path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("h264", 320, 240)  # copied, not re-encoded
        frames = sum(1 for _ in container.decode(stream))
    # 8 s asked across the join, from the keyframe at or before the start: 8 s and at most a GOP more
    assert 7.5 <= export["duration_s"] <= 8.0 + 2.5, export
    assert frames >= 7.5 * 10  # the synthetic camera runs at 10 fps; every frame decodes
    case = served.client.get(f"/api/cases/{served.case_id}", headers=served.viewer).json()
    assert [x["id"] for x in case["exports"]] == [export["id"]]
    with served.database.read_session() as session:
        action = session.scalars(select(CaseAction).where(CaseAction.action == "export")).one()
    assert action.actor == "olga" and action.data["recording_id"] == export["id"]


def test_exports_refuse_what_cannot_be_made(served: Served) -> None:
    url = f"/api/cases/{served.case_id}/exports"
    first = _at(served.segments[0]["start"])
    nothing = {"camera_id": CAMERA, "start": "2020-01-01T00:00:00+00:00", "end": "2020-01-01T00:01:00+00:00"}
    assert served.client.post(url, json=nothing, headers=served.operator).status_code == 422
    backwards = {"camera_id": CAMERA, "start": first.isoformat(), "end": (first - timedelta(seconds=5)).isoformat()}
    assert served.client.post(url, json=backwards, headers=served.operator).status_code == 422
    long = {"camera_id": CAMERA, "start": first.isoformat(), "end": (first + timedelta(hours=2)).isoformat()}
    assert served.client.post(url, json=long, headers=served.operator).status_code == 422
    ok = {"camera_id": CAMERA, "start": first.isoformat(), "end": (first + timedelta(seconds=3)).isoformat()}
    assert served.client.post("/api/cases/999999/exports", json=ok, headers=served.operator).status_code == 404
    assert served.client.post(url, json={**ok, "camera_id": "nowhere"}, headers=served.operator).status_code == 404
    assert served.client.post(url, json={**ok, "start": "soon"}, headers=served.operator).status_code == 422
    with served.database.read_session() as session:
        exports = session.scalars(select(Recording.path).where(Recording.kind == "export")).all()
    on_disk = {p.relative_to(served.root).as_posix() for p in (served.root / "exports").rglob("*.mp4*")}
    assert on_disk == set(exports)  # a refused export leaves no file behind


def _row(served: Served, recording_id: int) -> Recording:
    with served.database.read_session() as session:
        row = session.get(Recording, recording_id)
        assert row is not None
        return row


def test_retention_never_deletes_what_an_open_case_cites(served: Served) -> None:
    """The case's event is moved onto the second segment: under a quota of nothing, every
    recording goes but that segment and the open case's exports; once the case closes they go too."""
    second = served.segments[1]
    with served.database.session() as session:
        event = session.scalars(select(Event)).one()
        event.occurred_at = _at(second["start"]) + timedelta(seconds=5)
        event.first_seen_s, event.triggered_s, event.ended_s = 100.0, 101.0, None  # on screen 1 s before
    data = served.config.model_dump(mode="json")
    data["storage"]["max_recordings_gb"] = 1e-12  # no byte fits
    data["cameras"][0]["record"].update(pre_s=1.0, post_s=1.0)  # the event's window: 4..6 s into it
    maintainer = Maintainer(CitywatchConfig.model_validate(data), served.database)
    with served.database.read_session() as session:
        paths = {row.id: row.path for row in session.scalars(select(Recording))}
    maintainer.run_once()
    with served.database.read_session() as session:
        kept = {(row.kind, row.id) for row in session.scalars(select(Recording))}
    exports = {("export", row) for kind, row in kept if kind == "export"}
    assert kept == {("segment", second["id"])} | exports and exports
    assert all((served.root / paths[row_id]).is_file() for _, row_id in kept)
    gone = [
        path for row_id, path in paths.items() if ("segment", row_id) not in kept and ("export", row_id) not in kept
    ]
    assert gone and not any((served.root / path).exists() for path in gone)  # row and file went together
    with served.database.session() as session:
        session.get(Case, served.case_id).status = "closed"
    maintainer.run_once()
    with served.database.read_session() as session:
        assert session.scalars(select(Recording)).all() == []


def test_reconcile_indexes_unindexed_segments_and_drops_rows_of_missing_files(tmp_path: Path) -> None:
    data = demo_config_dict(
        tmp_path, url=str(synthetic(tmp_path, seconds=12)), record={"continuous": True, "segment_s": 10}
    )
    record_segments(tmp_path, data)
    config = CitywatchConfig.model_validate(data)
    database = open_database(config.storage.database_url)
    root = config.storage.recordings_root
    with database.session() as session:
        rows = {row.path: (row.start_at, row.duration_s) for row in session.scalars(select(Recording))}
        session.query(Recording).delete()
        session.add(
            Recording(
                camera_id=CAMERA, kind="segment", path=f"{CAMERA}/20200101/20200101T000000000Z-00009.mp4",
                start_at=datetime(2020, 1, 1, tzinfo=UTC), end_at=datetime(2020, 1, 1, 0, 0, 10, tzinfo=UTC),
                duration_s=10.0, bytes=1,
            )
        )  # fmt: skip
    assert len(rows) == 2
    assert reconcile(database, root) == (2, 1)
    with database.read_session() as session:
        again = {row.path: (row.start_at, row.duration_s) for row in session.scalars(select(Recording))}
    assert again.keys() == rows.keys()
    for path, (start, duration) in rows.items():
        assert abs((again[path][0] - start).total_seconds()) < 0.002  # the start is in the file's name
        assert abs(again[path][1] - duration) < 0.2  # the length is read from the file
    assert reconcile(database, root) == (0, 0)
    database.dispose()
