"""E-vehicle kinds and the new labels: the two-, three- and four-wheel e-vehicles the bureau counts
(`vehicle_kind`, the `e_vehicle` group a `non_motor_parking` rule may name for `low_speed_ev`),
the occupiers and `debris` as labels a model may be mapped onto (COCO's chair, bench and suitcase
are), their Chinese names, and the campaign report counting non-motor parking alerts by kind over
a real SQLite ledger and the HTTP API."""

from __future__ import annotations

import time
import uuid

import numpy as np
import pytest
import supervision as sv
import yaml

from citywatch.config import NonMotorParkingRuleConfig
from citywatch.config.rules import RULE_LABELS
from citywatch.domain.wording import LABEL_NAMES, TYPE_NAMES
from citywatch.events import EventRecord
from tests.ledger_support import JPEG, Ledger
from tests.support import REPO
from vision.labels import (
    CITYWATCH_LABELS,
    COCO_MAPPING,
    GROUPS,
    MOVERS,
    expand_labels,
    map_labels,
    parse_mapping,
    vehicle_kind,
)
from vision.rules import EVALUATORS


@pytest.mark.parametrize(
    ("label", "kind"),
    [
        ("e-bike", "two_wheel"),
        ("bicycle", "two_wheel"),  # the baseline: COCO has no e-bike, an e-bike is detected as either
        ("motorcycle", "two_wheel"),
        ("tricycle", "three_wheel"),
        ("low_speed_ev", "four_wheel_e"),
        ("car", "car"),
        ("person", None),
        (None, None),
    ],
)
def test_vehicle_kind(label: str | None, kind: str | None) -> None:
    assert vehicle_kind(label) == kind


def test_groups_and_rule_labels() -> None:
    assert expand_labels(["e_vehicle"]) == {"e-bike", "tricycle", "low_speed_ev"}
    assert expand_labels(["occupier"]) == {"traffic_cone", "parking_lock", "chair", "obstacle"}
    assert "low_speed_ev" in MOVERS  # masked by the model-free baselines like any vehicle
    assert {"low_speed_ev", "debris", "traffic_cone"} <= CITYWATCH_LABELS
    assert set(RULE_LABELS) == set(CITYWATCH_LABELS) | set(GROUPS)
    rule = NonMotorParkingRuleConfig(id="r", type="non_motor_parking", zones=["z"], labels=["non_motor", "e_vehicle"])
    assert [*rule.labels] == ["non_motor", "e_vehicle"]
    assert expand_labels(rule.labels) == {"bicycle", "e-bike", "tricycle", "low_speed_ev"}
    assert set(EVALUATORS) >= {"parking_space_occupied", "floating_debris"}
    assert parse_mapping("cone=traffic_cone,lock=parking_lock,evcar=low_speed_ev,bottle=debris") == {
        "cone": "traffic_cone",
        "lock": "parking_lock",
        "evcar": "low_speed_ev",
        "bottle": "debris",
    }


def test_coco_chairs_benches_and_suitcases_become_occupiers() -> None:
    names = ["person", "chair", "bench", "suitcase", "dog"]
    detections = sv.Detections(
        xyxy=np.array([[0, 0, 10, 10]] * 5, dtype=np.float32),
        confidence=np.full(5, 0.9, dtype=np.float32),
        class_id=np.arange(5),
    )
    assert list(map_labels(detections, names, COCO_MAPPING).data["label"]) == [
        "person",
        "chair",
        "obstacle",
        "obstacle",
    ]
    manifest = yaml.safe_load((REPO / "models" / "models.yaml").read_text())
    mapping = next(m for m in manifest["models"] if m["name"] == "yolox-nano-coco")["label_mapping"]
    assert {k: mapping[k] for k in ("chair", "bench", "suitcase")} == {
        k: COCO_MAPPING[k] for k in ("chair", "bench", "suitcase")
    }


def test_new_types_and_labels_have_chinese_names() -> None:
    assert TYPE_NAMES["parking_space_occupied"] == "霸占停车资源" and TYPE_NAMES["floating_debris"] == "河面漂浮物"
    for label in ("low_speed_ev", "traffic_cone", "parking_lock", "chair", "obstacle", "debris"):
        assert label in LABEL_NAMES
    console = (REPO / "api" / "static" / "js" / "i18n.js").read_text()
    for key in (
        "type.parking_space_occupied",
        "type.floating_debris",
        "obj.low_speed_ev",
        "obj.traffic_cone",
        "obj.debris",
    ):
        assert f'"{key}"' in console


def non_motor(label: str) -> EventRecord:
    return EventRecord(
        uid=str(uuid.uuid4()),
        type="non_motor_parking",
        camera_id="campus-road",
        rule_id="walk-no-parking",
        zone_id="kerb",
        label=label,
        track_id=1,
        first_seen_s=0.0,
        triggered_s=60.0,
        score=0.8,
        box=(1.0, 2.0, 3.0, 4.0),
        occurred_wall_s=time.time(),
        images={"trigger": JPEG},
    )


def test_campaign_report_counts_non_motor_alerts_by_kind(ledger: Ledger) -> None:
    for label in ("e-bike", "motorcycle", "tricycle", "low_speed_ev", "low_speed_ev"):
        ledger.sink.record(non_motor(label))
    ledger.event()  # an illegal_parking event: no non-motor kind
    now = time.time()
    span = {
        "start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3600)),
        "end": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600)),
    }
    report = ledger.client.get("/api/reports/campaign", params=span, headers=ledger.auth("viewer"))
    assert report.status_code == 200, report.text
    counts = report.json()["counts"]
    assert (counts["non_motor_two_wheel"], counts["non_motor_three_wheel"], counts["non_motor_four_wheel_e"]) == (
        2,
        1,
        2,
    )
