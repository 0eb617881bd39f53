"""The plate grammar and the vote over a stay's readings (issue #16): pure functions, no models."""

from __future__ import annotations

import pytest

from vision.plates import PlateReading, normalize_plate, parse_plate, vote_plate


@pytest.mark.parametrize(
    ("raw", "color", "text", "kind"),
    [
        ("豫D·12345", "blue", "豫D12345", "ordinary"),
        ("京A 8B9C7", "blue", "京A8B9C7", "ordinary"),
        ("粤B1234学", "yellow", "粤B1234学", "ordinary"),
        ("苏E0001警", "white", "苏E0001警", "ordinary"),
        ("沪AD12345", "green", "沪AD12345", "new_energy_small"),
        ("浙AFK1234", "green", "浙AFK1234", "new_energy_small"),
        ("川A12345D", "green", "川A12345D", "new_energy_large"),
        ("鲁B12345F", "yellow", "鲁B12345F", "new_energy_large"),
        ("ｇｕ", None, None, None),
        ("豫D1234O", "blue", "豫D12340", "ordinary"),  # O in the serial is a 0
        ("豫DI2345", "blue", "豫D12345", "ordinary"),  # I in the serial is a 1
    ],
)
def test_parse_plate_accepts_the_grammar(raw: str, color: str | None, text: str | None, kind: str | None) -> None:
    parsed = parse_plate(raw, color)
    if text is None:
        assert parsed is None
    else:
        assert parsed is not None and (parsed.text, parsed.kind, parsed.province) == (text, kind, text[0])


@pytest.mark.parametrize(
    ("raw", "color"),
    [
        ("豫D1234", "blue"),  # too short
        ("豫D123456", "blue"),  # eight characters on a blue plate
        ("沪AD12345", "blue"),  # a new-energy serial on a blue plate
        ("豫D12345", "green"),  # seven characters on a green plate
        ("A豫12345", None),  # no province first
        ("港D12345", None),  # not a province abbreviation
        ("豫112345", None),  # the authority is a letter
        ("豫O12345", None),  # never O as the authority letter
        ("沪AZ12345", "green"),  # Z is no energy letter
        ("沪AD1A345", "green"),  # a small new-energy serial ends in four digits
        ("豫D12学45", None),  # a use character only at the end
        ("", None),
    ],
)
def test_parse_plate_refuses_what_breaks_it(raw: str, color: str | None) -> None:
    assert parse_plate(raw, color) is None


def test_normalize_plate_folds_width_and_separators() -> None:
    assert normalize_plate("豫ｄ·１２３４５") == "豫D12345"
    assert normalize_plate(" 京-a 0o1i2 ") == "京A00112"


def _r(text: str, confidence: float, color: str = "blue") -> PlateReading:
    return PlateReading(text, color, confidence, (0.0, 0.0, 10.0, 4.0))


def test_vote_needs_agreeing_frames() -> None:
    assert vote_plate([_r("豫D12345", 0.99)]) is None
    assert vote_plate([_r("豫D12345", 0.99)], min_agree=1) == PlateReading("豫D12345", "blue", 0.99, (0, 0, 10, 4))
    assert vote_plate([_r("豫D12345", 0.9), _r("豫D12346", 0.9)]) is None


def test_vote_sums_confidence_and_drops_ungrammatical_reads() -> None:
    readings = [
        _r("豫D12345", 0.6),
        _r("豫D·12345", 0.7),
        _r("豫D12845", 0.95),
        _r("豫D12845", 0.2),
        _r("象D12345", 0.99),  # not a province: never counted
        _r("象D12345", 0.99),
    ]
    best = vote_plate(readings)
    assert best is not None and best.text == "豫D12345" and best.confidence == pytest.approx(0.65)


def test_vote_colour_is_the_majority_of_agreeing_frames() -> None:
    readings = [_r("鲁B12345F", 0.9, "yellow"), _r("鲁B12345F", 0.5, "green"), _r("鲁B12345F", 0.6, "green")]
    best = vote_plate(readings)
    assert best is not None and best.color == "green" and best.text == "鲁B12345F"
