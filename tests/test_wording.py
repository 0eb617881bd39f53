"""The texts the ledger writes for people are in the operators' language: a camera case's
description names the place, the problem and the object in Chinese, and its audit lines say what
happened in Chinese with the event quoted by its short id (the ids themselves stay in `data`)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from citywatch.domain.wording import case_description, evidence_caption, label_name, type_name
from tests.ledger_support import Ledger, make_ledger
from vision.evidence import CJK_FONTS, annotate


def test_words_for_types_labels_and_descriptions() -> None:
    assert type_name("illegal_parking") == "机动车违停" and type_name("waterlogging") == "道路积水"
    assert label_name("truck") == "货车" and label_name(None) == "目标"
    assert (
        case_description("non_motor_parking", "e-bike", "光明路口 / 人行道")
        == "光明路口 / 人行道：发现非机动车乱停放（电动自行车）"
    )


def test_a_camera_case_reads_in_chinese(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ledger: Ledger = make_ledger(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        first, second = ledger.event(), ledger.event()
        case = ledger.client.get(f"/api/cases/{first['case_id']}", headers=ledger.auth("viewer")).json()
        assert case["description"].endswith("：发现机动车违停（货车）"), case["description"]
        notes = [action["note"] for action in case["actions"]]
        assert notes[0] == f"由告警 {first['uid'][:8]} 生成案件"
        assert f"新告警 {second['uid'][:8]} 并入本案" in notes
        english = [n for n in notes if re.search(r"\b(event|opened|attached|camera|seen)\b", n or "")]
        assert english == []
        assert case["actions"][0]["data"]["event_id"] == first["id"]  # ids stay in data
    finally:
        ledger.sink.close()
        ledger.database.dispose()


def test_evidence_photos_carry_a_chinese_caption() -> None:
    caption = evidence_caption("truck", "illegal_parking")
    assert caption == "货车 · 机动车违停"
    frame = np.full((480, 640, 3), 128, np.uint8)
    plain = annotate(frame, [], (200, 200, 400, 400))
    drawn = annotate(frame, [], (200, 200, 400, 400), caption)
    label = drawn[150:200, 200:420]
    assert (label != plain[150:200, 200:420]).any()  # a label above the box
    if any(Path(p).is_file() for p in CJK_FONTS):
        ink = (label.sum(axis=2) < 60).sum()  # black glyph pixels on the green label, not "?" marks
        assert ink > 150, ink
