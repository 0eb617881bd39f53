"""Dataset export from reviews on the real footage and a real SQLite database: the YOLO layout,
label lines equal to the reviewed boxes, camera-day groups kept apart by the split, wrong-object
rejections as empty-label negatives (other rejections left out), and clear errors for an empty
selection."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from citywatch.cli import main
from citywatch.learning.dataset import DatasetError, export_dataset, split_groups
from tests.learning_support import DAY2, Reviewed, no_network, reviewed_database

pytestmark = pytest.mark.footage


@pytest.fixture
def reviewed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Reviewed]:
    no_network(monkeypatch)
    made = reviewed_database(tmp_path)
    yield made
    made.database.dispose()


def _lines(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]


def test_export_writes_yolo_layout_split_by_camera_and_day(reviewed: Reviewed, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    evidence = Path(reviewed.config.storage.evidence_dir)
    with reviewed.database.read_session() as session:
        report = export_dataset(session, evidence, out, labels=["truck"], val_fraction=0.3, seed=1)
    data = yaml.safe_load((out / "data.yaml").read_text(encoding="utf-8"))
    assert data == {"path": str(out.resolve()), "train": "images/train", "val": "images/val", "names": {0: "truck"}}
    lines = _lines(out)
    by_event = {line["ids"]["event_id"]: line for line in lines if line["kind"] == "event"}
    events = {e["id"]: e for e in reviewed.events if "id" in e}
    # confirmed alerts and the wrong-object rejection; not the permitted van, not the pending alert
    wanted = {e["id"] for e in events.values() if e["review"] == "confirmed" or (e["reason"] or "").startswith("误检")}
    assert set(by_event) == wanted
    assert any("another reason" in s for s in report.skipped)
    for event_id, line in by_event.items():
        event = events[event_id]
        assert (out / line["image"]).is_file() and line["image"].startswith(f"images/{line['split']}/")
        label_text = (out / line["labels"]).read_text(encoding="utf-8")
        assert line["labels"] == f"labels/{line['split']}/{Path(line['image']).stem}.txt"
        assert line["camera"] == event["camera"] and line["group"] == f"{event['camera']}/{event['day']}"
        if event["review"] == "rejected":
            assert label_text == "" and line["boxes"] == []  # a hard negative
            continue
        (x1, y1, x2, y2), (width, height) = event["box"], event["size"]
        cls, cx, cy, w, h = label_text.split()
        assert cls == "0"
        expected = ((x1 + x2) / 2 / width, (y1 + y2) / 2 / height, (x2 - x1) / width, (y2 - y1) / height)
        assert [float(v) for v in (cx, cy, w, h)] == pytest.approx(expected, abs=1e-5)
    groups = {split: {line["group"] for line in lines if line["split"] == split} for split in ("train", "val")}
    assert groups["train"] and groups["val"] and not groups["train"] & groups["val"]
    assert {split: sorted(g) for split, g in groups.items()} == report.groups
    assert report.counts == {split: sum(1 for line in lines if line["split"] == split) for split in ("train", "val")}
    assert report.negatives == 1 and report.kinds == {"event": len(wanted), "annotation": 1}
    (annotated,) = [line for line in lines if line["kind"] == "annotation"]
    (expected_box,) = [e["box"] for e in reviewed.events if "annotation" in e]
    assert annotated["ids"]["annotation_id"] and annotated["group"] == "campus-gate/2026-12-01"
    assert annotated["boxes"] == [{"label": "truck", "box": pytest.approx(expected_box)}]
    assert (out / annotated["labels"]).read_text(encoding="utf-8").startswith("0 ")

    again = tmp_path / "again"  # the same seed, the same split
    with reviewed.database.read_session() as session:
        export_dataset(session, evidence, again, labels=["truck"], val_fraction=0.3, seed=1)
    assert [(line["ids"], line["split"]) for line in _lines(again)] == [(line["ids"], line["split"]) for line in lines]


def test_split_keeps_whole_groups_and_is_seeded() -> None:
    sizes = {"a/2026-11-30": 5, "a/2026-12-01": 3, "b/2026-11-30": 2, "b/2026-12-01": 4}
    first = split_groups(sizes, 0.25, seed=3)
    assert first == split_groups(sizes, 0.25, seed=3) and set(first) == set(sizes)
    assert {"train", "val"} == set(first.values())
    assert split_groups(sizes, 0.0) == dict.fromkeys(sizes, "train")
    assert set(split_groups({"only/2026-11-30": 9}, 0.5).values()) == {"train"}


def test_command_prints_the_split_and_refuses_an_empty_selection(
    reviewed: Reviewed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(reviewed.config_path)
    assert main(["dataset", "export", "--config", config, "--out", str(tmp_path / "ds"), "--labels", "truck"]) == 0
    printed = capsys.readouterr().out
    assert "train:" in printed and "val:" in printed and "camera-day group" in printed and "negatives" in printed
    empty = ["dataset", "export", "--config", config, "--out", str(tmp_path / "none")]
    assert main([*empty, "--labels", "litter"]) == 2
    assert "no reviewed sample with a box of litter" in capsys.readouterr().err
    assert main([*empty, "--since", "2027-01-01"]) == 2
    assert "no reviewed sample" in capsys.readouterr().err
    one_day = ["--since", "2026-12-01", "--until", "2026-12-01T12:00", "--labels", "truck"]
    assert main(["dataset", "export", "--config", config, "--out", str(tmp_path / "day"), *one_day]) == 0
    only_one = DAY2 + timedelta(seconds=46)  # campus-road's alert at 50 s of day 2, alone
    with pytest.raises(DatasetError, match="one camera-day group"), reviewed.database.read_session() as session:
        evidence = Path(reviewed.config.storage.evidence_dir)
        export_dataset(session, evidence, tmp_path / "cam", since=only_one, until=only_one + timedelta(seconds=10),
                       labels=["truck"], val_fraction=0.2)  # fmt: skip
