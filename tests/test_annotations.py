"""Box annotations (issue #18) over HTTP on SQLite and PostgreSQL, and the domain's validation: an
event's evidence or a kept camera frame is annotated, the image is on disk before the row, pages
are stable, deletion is audited, viewers cannot write, bad boxes and labels are refused."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from citywatch.domain import annotations as marking
from citywatch.domain.tables import Annotation, Event
from tests.ledger_support import BACKENDS, Ledger
from vision.frames import Frame

CAR = {"label": "car", "box": [0.62, 0.05, 0.71, 0.2]}


def _post(ledger: Ledger, body: dict, role: str = "operator"):  # type: ignore[no-untyped-def]
    return ledger.client.post("/api/annotations", json=body, headers=ledger.auth(role))


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
def test_an_event_is_annotated_on_its_evidence_and_listed_in_pages(ledger: Ledger) -> None:
    event = ledger.event()
    with ledger.database.read_session() as session:
        snapshot = Path(session.get(Event, event["id"]).snapshot_path)  # type: ignore[union-attr, arg-type]
    made = _post(ledger, {"event_id": event["id"], "boxes": [CAR, {"label": "person", "box": [0, 0, 0.1, 0.3]}]})
    assert made.status_code == 201, made.text
    row = made.json()
    evidence = Path(ledger.config.storage.evidence_dir)
    assert (evidence / row["image_path"]).resolve() == snapshot.resolve()
    assert row["camera_id"] == "campus-road" and row["stream_ts"] == 20.5 and row["created_by"] == "operator-1"
    assert row["boxes"][0] == CAR
    image = ledger.client.get(row["image_url"], headers=ledger.auth("viewer"))
    assert image.status_code == 200 and image.content == snapshot.read_bytes()

    for _ in range(4):
        assert _post(ledger, {"event_id": ledger.event()["id"], "boxes": [CAR]}).status_code == 201
    first = ledger.client.get("/api/annotations", params={"limit": 3}, headers=ledger.auth("viewer")).json()
    rest = ledger.client.get("/api/annotations", params={"limit": 3, "offset": 3}, headers=ledger.auth("viewer")).json()
    assert first["total"] == rest["total"] == 5 and len(first["items"]) == 3 and len(rest["items"]) == 2
    assert {i["id"] for i in first["items"]}.isdisjoint({i["id"] for i in rest["items"]})
    with ledger.database.read_session() as session:  # the dataset exporter's entry point
        rows = marking.list_annotations(session)
        later = marking.list_annotations(session, since=datetime.now(UTC) + timedelta(hours=1))
    assert [r.id for r in rows][:1] == [row["id"]] and len(rows) == 5 and later == []
    assert all(isinstance(r, Annotation) and r.boxes for r in rows)

    # deletion is audited: the row stays, marked by whom, and leaves every listing
    assert ledger.client.delete(f"/api/annotations/{row['id']}", headers=ledger.auth("viewer")).status_code == 403
    gone = ledger.client.delete(f"/api/annotations/{row['id']}", headers=ledger.auth("operator"))
    assert gone.status_code == 204
    assert ledger.client.delete(f"/api/annotations/{row['id']}", headers=ledger.auth("operator")).status_code == 404
    with ledger.database.read_session() as session:
        kept = session.get(Annotation, row["id"])
        assert kept is not None and kept.deleted_by == "operator-1" and kept.deleted_at is not None
        assert row["id"] not in {r.id for r in marking.list_annotations(session)}
    assert ledger.client.get("/api/annotations", headers=ledger.auth("viewer")).json()["total"] == 4


def test_bad_annotations_are_refused_and_store_nothing(ledger: Ledger) -> None:
    event_id = ledger.event()["id"]
    assert _post(ledger, {"event_id": event_id, "boxes": [CAR]}, role="viewer").status_code == 403
    for boxes in (
        [{"label": "cat", "box": [0.1, 0.1, 0.2, 0.2]}],  # not a Citywatch label
        [{"label": "car", "box": [0.3, 0.1, 0.2, 0.2]}],  # x1 > x2
        [{"label": "car", "box": [0.1, 0.1, 0.2, 1.5]}],  # outside the frame
        [CAR] * 101,  # over feedback.max_boxes
    ):
        refused = _post(ledger, {"event_id": event_id, "boxes": boxes})
        assert refused.status_code == 422, refused.text
    assert _post(ledger, {"event_id": 999_999, "boxes": [CAR]}).status_code == 404
    assert _post(ledger, {"boxes": [CAR]}).status_code == 422  # neither event nor frame
    assert (
        _post(
            ledger, {"frame": "../../etc/passwd", "camera_id": "campus-road", "stream_ts": 1, "boxes": []}
        ).status_code
        == 422
    )
    with ledger.database.read_session() as session:
        assert marking.count_annotations(session) == 0


def test_a_camera_frame_is_written_before_its_annotation(ledger: Ledger) -> None:
    # The pipeline's live view is the one part not run here: the app is given a camera's last
    # frame as `attach_pipeline` would (a real decoded BGR image, not a mock of the route).
    image = np.zeros((360, 640, 3), np.uint8)
    cv2.rectangle(image, (400, 20), (460, 80), (255, 255, 255), -1)
    frame = Frame("campus-road", 7, 12.5, time.time(), image)
    ledger.client.app.state.context.latest_frame = lambda camera_id: frame if camera_id == "campus-road" else None  # type: ignore[attr-defined]
    assert (
        ledger.client.post(
            "/api/annotations/frames", json={"camera_id": "nowhere"}, headers=ledger.auth("operator")
        ).status_code
        == 404
    )
    kept = ledger.client.post(
        "/api/annotations/frames", json={"camera_id": "campus-road"}, headers=ledger.auth("operator")
    )
    assert kept.status_code == 201, kept.text
    reference = kept.json()
    file = Path(ledger.config.storage.evidence_dir) / reference["frame"]
    assert file.is_file() and (reference["width"], reference["height"]) == (640, 360)  # on disk, no row yet
    with ledger.database.read_session() as session:
        assert marking.count_annotations(session) == 0
    served = ledger.client.get(reference["url"], headers=ledger.auth("viewer"))
    assert served.status_code == 200 and served.content == file.read_bytes()
    box = {"label": "truck", "box": [400 / 640, 20 / 360, 460 / 640, 80 / 360]}
    body = {key: reference[key] for key in ("frame", "camera_id", "stream_ts", "taken_at")}
    made = _post(ledger, {**body, "boxes": [box]})
    assert made.status_code == 201, made.text
    assert made.json()["image_path"] == reference["frame"] and made.json()["stream_ts"] == 12.5
    assert made.json()["event_id"] is None
    file.unlink()  # a reference whose file is gone is refused
    assert _post(ledger, {**body, "boxes": [box]}).status_code == 404


def test_the_box_checks_name_every_problem() -> None:
    labels = marking.allowed_labels(["stall"])
    assert marking.check_boxes([{"label": "stall", "box": [0, 0, 1, 1]}], labels) == []
    assert marking.check_boxes("x", labels) == ["boxes must be a list"]
    problems = marking.check_boxes([{"label": "car", "box": [0.1, "a", 0.2, 0.3]}, {"box": [0, 0, 1, 1]}], labels)
    assert problems == ["box 0: box must be four numbers [x1, y1, x2, y2]", "box 1: unknown label None"]
    assert marking.check_boxes([CAR, CAR], labels, max_boxes=1) == ["2 boxes, over the 1 one annotation may hold"]
    assert marking.check_boxes([{"label": "car", "box": [0.1, 0.1, 0.1, float("nan")]}], labels) == [
        "box 0: box must be four numbers [x1, y1, x2, y2]"
    ]
