"""Promotion on real models and footage: a candidate worse than the current model on the held-back
split is refused (exit 1, figures shown) and nothing changes; one not worse is promoted for one
rule's camera only (the other camera keeps its model, checked on a real frame through the
detector set the runtime loads); rollback restores the previous model.

The candidates are copies of the shared YOLOX model under other names: a miswired one (its
`person` class reported as `truck`) and a faithful one; no other detector of vans exists offline."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from citywatch.cli import main
from citywatch.detectors import PROMOTIONS_NAME, DetectorError, active_promotions, load_detector_set, read_promotions
from citywatch.learning.dataset import export_dataset
from citywatch.learning.promotion import PromotionRefused, Scope, promote
from citywatch.modelstore import add_model, coco_class_names
from tests.learning_support import Reviewed, frame_at, no_network, reviewed_database
from tests.support import MODEL_DIR
from vision.labels import COCO_MAPPING


@pytest.fixture
def reviewed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Reviewed]:
    no_network(monkeypatch)
    store = tmp_path / "store"
    monkeypatch.setenv("CITYWATCH_MODEL_DIR", str(store))
    made = reviewed_database(tmp_path)
    for name, mapping in (("van-good", COCO_MAPPING), ("van-miswired", {"person": "truck"})):
        store.mkdir(exist_ok=True)
        shutil.copyfile(MODEL_DIR / "yolox_nano.onnx", store / f"{name}.onnx")
        add_model(store / f"{name}.onnx", name, store / "derived.yaml", backend="yolox_onnx",
                  label_mapping=dict(mapping), input_size=416, class_names=coco_class_names())  # fmt: skip
    with made.database.read_session() as session:
        export_dataset(session, Path(made.config.storage.evidence_dir), tmp_path / "ds", labels=["truck"],
                       val_fraction=0.3)  # fmt: skip
    yield made
    made.database.dispose()


@pytest.mark.footage
def test_worse_refused_promoted_for_its_rule_only_then_rolled_back(
    reviewed: Reviewed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, data, log = str(reviewed.config_path), str(tmp_path / "ds"), tmp_path / "store" / PROMOTIONS_NAME
    scope = ["--config", config, "--rules", "kerb-no-parking"]

    assert main(["models", "promote", "van-miswired", *scope, "--data", data]) == 1
    err = capsys.readouterr().err
    assert "refused" in err and "recall" in err and "yolox_nano.onnx" in err and "candidate" in err
    with pytest.raises(PromotionRefused) as refused:
        promote(reviewed.config, "van-miswired", Scope(rules=["kerb-no-parking"]), tmp_path / "ds")
    mine, theirs = refused.value.figures["candidate"], refused.value.figures["current"]
    assert mine["recall"] < theirs["recall"] and theirs["tp"] > 0
    assert not log.exists()  # nothing recorded, the configured model stays
    before = load_detector_set(reviewed.config.detector, reviewed.config.detectors)
    assert list(before.detectors) == ["yolox-nano-coco"]
    before.close()

    assert main(["models", "evaluate", "van-good", "--data", data, "--config", config]) == 0
    assert "not worse" in capsys.readouterr().out
    assert main(["models", "promote", "van-good", *scope, "--data", data]) == 0
    assert "promoted van-good for cameras campus-road, labels truck" in capsys.readouterr().out
    (record,) = read_promotions([log])
    assert record["previous"] == "yolox_nano.onnx" and record["rules"] == ["kerb-no-parking"]
    assert record["confidence"] == reviewed.config.detector.confidence
    assert record["figures"]["candidate"]["recall"] >= record["figures"]["current"]["recall"]

    detectors = load_detector_set(reviewed.config.detector, reviewed.config.detectors)  # as the runtime loads it
    try:
        promoted = "van-good@promoted1"
        assert set(detectors.detectors) == {"yolox-nano-coco", promoted}
        assert detectors.detectors[promoted].name == promoted
        assert detectors.needed(["truck"], "campus-road") == [promoted]
        assert detectors.needed(["truck"], "campus-gate") == ["yolox-nano-coco"]
        assert detectors.needed(["person", "truck"], "campus-road") == ["yolox-nano-coco", promoted]
        image = frame_at(30.0)
        road = detectors.detect("campus-road", image, labels=["truck"])
        assert detectors.calls == {promoted: 1} and "truck" in set(road.data["label"])
        gate = detectors.detect("campus-gate", image, labels=["vehicle"])
        assert detectors.calls == {promoted: 1, "yolox-nano-coco": 1} and "truck" in set(gate.data["label"])
        both = detectors.detect("campus-road", image, labels=["person", "truck"])
        truck_boxes = [box for box, label in zip(both.xyxy, both.data["label"], strict=True) if label == "truck"]
        assert len(truck_boxes) == sum(1 for label in road.data["label"] if label == "truck")  # not doubled
    finally:
        detectors.close()

    assert main(["models", "promotions", "--config", config]) == 0
    assert "van-good: cameras campus-road, labels truck" in capsys.readouterr().out
    assert main(["models", "rollback", "van-good", *scope]) == 0
    out = capsys.readouterr().out
    assert "rolled back van-good" in out and "the configured models serve" in out
    restored = load_detector_set(reviewed.config.detector, reviewed.config.detectors)
    assert list(restored.detectors) == ["yolox-nano-coco"]
    restored.close()
    assert [r["action"] for r in read_promotions([log])] == ["promote", "rollback"]
    assert main(["models", "rollback", "van-good", *scope]) == 2  # nothing left to roll back
    assert "nothing of van-good is promoted" in capsys.readouterr().err


def test_the_log_folds_into_a_stack_per_scope(tmp_path: Path) -> None:
    log = tmp_path / PROMOTIONS_NAME
    lines = [
        '{"action": "promote", "model": "a", "cameras": ["c2", "c1"], "labels": ["litter"]}',
        '{"action": "promote", "model": "w", "cameras": [], "labels": ["water"]}',
        '{"action": "promote", "model": "b", "cameras": ["c1", "c2"], "labels": ["litter"]}',
        "",
        '{"action": "rollback", "model": "w", "cameras": [], "labels": ["water"]}',
    ]
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    records = read_promotions([log, log])  # one directory named twice is read once
    assert len(records) == 4
    assert active_promotions(records) == {(("c1", "c2"), ("litter",)): ["a", "b"]}
    assert active_promotions(records[:3]) == {(("c1", "c2"), ("litter",)): ["a", "b"], ((), ("water",)): ["w"]}
    log.write_text('{"action": "promote"}\n', encoding="utf-8")
    with pytest.raises(DetectorError, match="line 1: not a promotion record"):
        read_promotions([log])
