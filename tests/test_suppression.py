"""Suppressions learnt from rejected alerts (issue #18): the pure clustering and matching, then over
HTTP on SQLite and PostgreSQL with the real sink: three rejections for the same reason at the same
place propose a suppression; once an admin activates it the next matching event is stored
`suppressed` (no case, not in the queue, not published) while other places and labels still alert;
revoking it restores alerting."""

from __future__ import annotations

import time
import uuid
from typing import Any

import cv2
import numpy as np
import pytest

from citywatch.config.feedback import FeedbackConfig
from citywatch.domain import suppression as sup
from citywatch.domain.suppression import Rejection
from citywatch.domain.tables import Case, Event, Suppression
from citywatch.events import EventRecord
from tests.ledger_support import BACKENDS, Ledger, make_ledger

WIDTH, HEIGHT = 1280, 720
#: The parked van's place on a 1280 x 720 frame, and a place far from it.
VAN = (1060.0, 40.0, 1200.0, 170.0)
ELSEWHERE = (100.0, 400.0, 260.0, 560.0)
_ok, _jpeg = cv2.imencode(".jpg", np.full((HEIGHT, WIDTH, 3), 90, np.uint8))
FRAME_JPEG = _jpeg.tobytes()


def _rej(i: int, box: tuple[float, float, float, float], reason: str = "不是违规", label: str = "truck") -> Rejection:
    return Rejection(i, "cam", "kerb", label, reason, box, 0.5 + i / 100)


def test_overlapping_rejections_for_one_reason_make_one_padded_proposal() -> None:
    place = [_rej(1, (0.50, 0.50, 0.60, 0.60)), _rej(2, (0.52, 0.51, 0.61, 0.62)), _rej(3, (0.49, 0.52, 0.58, 0.59))]
    (proposal,) = sup.cluster_rejections(place, min_rejections=3, padding=0.05)
    assert proposal.event_ids == (1, 2, 3) and proposal.label == "truck" and proposal.reason == "不是违规"
    assert proposal.region == pytest.approx((0.44, 0.45, 0.66, 0.67))
    assert proposal.min_confidence is None
    margin = sup.cluster_rejections(place, confidence_margin=0.1)[0]
    assert margin.min_confidence == pytest.approx(0.53 + 0.1)  # the highest rejected score (0.53) plus the margin


@pytest.mark.parametrize(
    ("others", "why"),
    [
        ([_rej(2, (0.50, 0.50, 0.60, 0.60)), _rej(3, (0.1, 0.1, 0.2, 0.2))], "one is elsewhere"),
        ([_rej(2, (0.50, 0.50, 0.60, 0.60)), _rej(3, (0.50, 0.50, 0.60, 0.60), reason="重复")], "another reason"),
        ([_rej(2, (0.50, 0.50, 0.60, 0.60)), _rej(3, (0.50, 0.50, 0.60, 0.60), label="car")], "another label"),
    ],
)
def test_fewer_than_enough_alike_rejections_propose_nothing(others: list[Rejection], why: str) -> None:
    assert sup.cluster_rejections([_rej(1, (0.5, 0.5, 0.6, 0.6)), *others], min_rejections=3) == [], why


def test_a_small_box_inside_a_big_one_counts_as_the_same_place() -> None:
    # IoU of the small boxes with the big one is low, but their centres lie inside it
    boxes = [(0.2, 0.2, 0.6, 0.6), (0.35, 0.35, 0.4, 0.4), (0.45, 0.45, 0.5, 0.5)]
    (proposal,) = sup.cluster_rejections([_rej(i, b) for i, b in enumerate(boxes)], padding=0.0)
    assert proposal.region == pytest.approx((0.2, 0.2, 0.6, 0.6))


def test_matching_an_active_suppression() -> None:
    row = Suppression(camera_id="cam", rule_id="kerb", label="truck", region=[0.4, 0.4, 0.7, 0.7], status="active")
    inside = (0.5, 0.5, 0.6, 0.6)
    assert sup.suppresses(row, "cam", "kerb", "truck", inside, 0.9)
    assert not sup.suppresses(row, "cam", "kerb", "truck", (0.0, 0.0, 0.1, 0.1), 0.9)  # elsewhere
    assert not sup.suppresses(row, "cam", "kerb", "car", inside, 0.9)  # another label
    assert not sup.suppresses(row, "other", "kerb", "truck", inside, 0.9)  # another camera
    assert not sup.suppresses(row, "cam", "other-rule", "truck", inside, 0.9)
    row.min_confidence = 0.8
    assert sup.suppresses(row, "cam", "kerb", "truck", inside, 0.7)
    assert not sup.suppresses(row, "cam", "kerb", "truck", inside, 0.85)  # confident enough to alert
    row.status = "revoked"
    assert not sup.suppresses(row, "cam", "kerb", "truck", inside, 0.1)
    assert sup.check_decision("proposed", "activate") is None and sup.check_decision("active", "revoke") is None
    assert sup.check_decision("active", "activate") == "a active suppression cannot be activated"
    assert sup.reason_key("不是违规 — 送货车") == "不是违规"


def _record(ledger: Ledger, box: tuple[float, float, float, float] = VAN, label: str = "truck") -> dict[str, Any]:
    record = EventRecord(
        uid=str(uuid.uuid4()),
        type="illegal_parking",
        camera_id="campus-road",
        rule_id="kerb-no-parking",
        zone_id="kerb",
        label=label,
        track_id=1,
        first_seen_s=0.5,
        triggered_s=20.5,
        score=0.7,
        box=box,
        occurred_wall_s=time.time(),
        images={"trigger": FRAME_JPEG},
    )
    return ledger.sink.record(record)


def _reject(ledger: Ledger, event_id: int, reason: str = "不是违规 — 送货车临停") -> None:
    answer = ledger.client.post(
        f"/api/events/{event_id}/review", json={"action": "reject", "reason": reason}, headers=ledger.auth("operator")
    )
    assert answer.status_code == 200, answer.text


def _listed(ledger: Ledger) -> list[dict[str, Any]]:
    answer = ledger.client.get("/api/suppressions", headers=ledger.auth("admin"))
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def _row(ledger: Ledger, event_id: int) -> Event:
    with ledger.database.read_session() as session:
        row = session.get(Event, event_id)
        assert row is not None
        session.expunge(row)
        return row


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
def test_rejections_teach_a_suppression_that_an_admin_activates_and_undoes(ledger: Ledger) -> None:
    heard: list[dict[str, Any]] = []
    published: list[tuple[str, dict[str, Any]]] = []
    ledger.sink.listeners.append(heard.append)
    ledger.database.subscribers.append(published.extend)
    for n in range(3):
        _reject(ledger, _record(ledger)["id"], reason="不是违规" if n == 0 else "不是违规 — 送货车临停")
        assert len(_listed(ledger)) == (1 if n == 2 else 0)
    (proposal,) = _listed(ledger)
    assert proposal["status"] == "proposed" and proposal["label"] == "truck" and proposal["reason"] == "不是违规"
    x1, y1, x2, y2 = proposal["region"]
    assert x1 < VAN[0] / WIDTH and y1 < VAN[1] / HEIGHT and x2 > VAN[2] / WIDTH and y2 > VAN[3] / HEIGHT
    assert ledger.client.get("/api/suppressions", headers=ledger.auth("operator")).status_code == 403
    still = _record(ledger)  # only proposed: it still alerts
    assert still["review_status"] == "pending" and still["case_id"] is not None

    url = f"/api/suppressions/{proposal['id']}"
    assert ledger.client.post(f"{url}/activate", headers=ledger.auth("operator")).status_code == 403
    active = ledger.client.post(f"{url}/activate", headers=ledger.auth("admin"))
    assert active.status_code == 200 and active.json()["status"] == "active"
    assert active.json()["decided_by"] == "admin-1"
    assert ledger.client.post(f"{url}/activate", headers=ledger.auth("admin")).status_code == 409

    heard.clear()
    published.clear()
    held = _record(ledger)
    row = _row(ledger, held["id"])
    assert row.review_status == "suppressed" and row.case_id is None
    assert row.review_reason == f"suppression:{proposal['id']}"
    assert heard == [] and [m for m in published if m[0] == "event"] == []  # no console push, no MQTT
    pending = ledger.client.get("/api/events", params={"review_status": "pending"}, headers=ledger.auth("viewer"))
    assert held["id"] not in {e["id"] for e in pending.json()["items"]}
    shown = ledger.client.get("/api/events", params={"review_status": "suppressed"}, headers=ledger.auth("viewer"))
    assert [e["id"] for e in shown.json()["items"]] == [held["id"]]
    assert _listed(ledger)[0]["suppressed"] == 1

    elsewhere, other_label = _record(ledger, box=ELSEWHERE), _record(ledger, label="car")
    for alert in (elsewhere, other_label):
        assert alert["review_status"] == "pending" and alert["case_id"] is not None
    assert len(heard) == 2

    undone = ledger.client.post(f"{url}/revoke", headers=ledger.auth("admin"))
    assert undone.status_code == 200 and undone.json()["status"] == "revoked"
    assert [step["action"] for step in undone.json()["history"]] == ["proposed", "activate", "revoke"]
    back = _record(ledger)
    assert back["review_status"] == "pending" and back["case_id"] is not None
    with ledger.database.read_session() as session:
        assert session.get(Case, back["case_id"]) is not None
    assert (
        ledger.client.post("/api/suppressions/" + "0" * 36 + "/revoke", headers=ledger.auth("admin")).status_code == 404
    )


def test_auto_apply_activates_at_once_and_old_rejections_do_not_count(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'auto.db'}"
    ledger = make_ledger(tmp_path, url, extra={"feedback": {"auto_apply": True, "min_rejections": 2}})
    try:
        first = _record(ledger)
        with ledger.database.session() as session:  # an alert from a year ago, outside the look-back
            old = session.get(Event, first["id"])
            assert old is not None
            old.occurred_at = old.occurred_at.replace(year=old.occurred_at.year - 1)
        _reject(ledger, first["id"])
        _reject(ledger, _record(ledger)["id"])
        assert _listed(ledger) == []
        _reject(ledger, _record(ledger)["id"])
        (learnt,) = _listed(ledger)
        assert learnt["status"] == "active" and learnt["decided_by"] == sup.SYSTEM_ACTOR
        assert _row(ledger, _record(ledger)["id"]).review_status == "suppressed"
    finally:
        ledger.sink.close()
        ledger.database.dispose()


def test_the_feedback_section_has_defaults() -> None:
    config = FeedbackConfig()
    assert (config.auto_apply, config.min_rejections, config.lookback_days) == (False, 3, 14.0)
