"""Offline training end to end: a tiny dataset exported from reviews on the real footage, one epoch
of yolov8n.yaml (from scratch, CPU, small input) with every network connection refused, the result
recorded in the model store with its checksum and provenance, then loaded through the model store
like any model and run on a frame."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from citywatch.cli import main
from citywatch.config import DetectorConfig
from citywatch.detectors import load_detector
from citywatch.learning.dataset import export_dataset, manifest_sha256
from citywatch.modelstore import sha256_of
from tests.learning_support import frame_at, no_network, reviewed_database

pytestmark = [pytest.mark.footage, pytest.mark.training]


def test_train_one_epoch_offline_then_detect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    no_network(monkeypatch)
    for name in ("YOLO_OFFLINE", "YOLO_AUTOINSTALL", "YOLO_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    reviewed = reviewed_database(tmp_path)
    data = tmp_path / "ds"
    with reviewed.database.read_session() as session:
        export_dataset(session, Path(reviewed.config.storage.evidence_dir), data, labels=["truck"], val_fraction=0.3)
    reviewed.database.dispose()
    store = tmp_path / "store"
    args = ["train", "--data", str(data), "--base", "yolov8n.yaml", "--epochs", "1", "--out", "van-v1"]
    assert main([*args, "--imgsz", "160", "--device", "cpu", "--batch", "4", "--store", str(store)]) == 0
    captured = capsys.readouterr()
    assert "epoch 1/1" in captured.err and "trained van-v1" in captured.out

    assert os.environ["YOLO_OFFLINE"] == "1" and os.environ["YOLO_AUTOINSTALL"] == "false"
    fonts = Path(os.environ["YOLO_CONFIG_DIR"])
    assert (
        fonts == store / ".ultralytics" and (fonts / "Arial.ttf").is_file() and (fonts / "Arial.Unicode.ttf").is_file()
    )
    entry = yaml.safe_load((store / "derived.yaml").read_text(encoding="utf-8"))["models"][0]
    assert entry["name"] == "van-v1" and entry["file"] == "van-v1.pt" and entry["backend"] == "ultralytics"
    assert entry["sha256"] == sha256_of(store / "van-v1.pt")
    assert entry["class_names"] == ["truck"] and entry["label_mapping"] == {"truck": "truck"}
    provenance = entry["provenance"]
    assert provenance["dataset_manifest_sha256"] == manifest_sha256(data)
    assert provenance["base"] == "yolov8n.yaml" and provenance["epochs"] == 1 and provenance["device"] == "cpu"
    assert set(provenance["metrics"]) >= {"precision", "recall", "mAP50"}

    detector = load_detector(DetectorConfig(model="van-v1", model_dirs=[str(store)], confidence=0.01, threads=1))
    assert detector.labels == frozenset({"truck"})
    (found,) = detector.detect([frame_at(30.0)])
    assert set(found.data.get("label", [])) <= {"truck"}  # one epoch from scratch: maybe nothing yet
    assert len(found.xyxy) == len(found.data.get("label", found.xyxy))
