"""Aligning CTC output with plate templates (vision.plates.ctc) and decoding along them: merged
neighbours are split, a faint character is found where the model gave it weight, and a place the
model never saw keeps its tiny probability."""

from __future__ import annotations

import numpy as np
import pytest

from vision.plates.ctc import align_places, best_alignment
from vision.plates.grammar import KIND_PLACES, kinds_for_color, parse_plate
from vision.plates.recognize import blank_ids, decode_plate, place_indices, template_indices

CHARACTERS = ["blank", *"豫皖DX0123456789·"]
INDEX = {c: i for i, c in enumerate(CHARACTERS)}


def ctc_output(frames: list[dict[str, float]]) -> np.ndarray:
    """A time × classes output: each frame's listed classes get their weight, the rest share
    what is left (so rows sum to 1)."""
    probs = np.zeros((len(frames), len(CHARACTERS)))
    for t, frame in enumerate(frames):
        for char, weight in frame.items():
            probs[t, INDEX[char]] = weight
        rest = 1.0 - probs[t].sum()
        probs[t][probs[t] == 0] = rest / max(1, int((probs[t] == 0).sum()))
    return probs


def frames_of(text: str) -> list[dict[str, float]]:
    """Each character on one frame (0.95) with a blank frame between."""
    out: list[dict[str, float]] = []
    for char in text:
        out += [{char: 0.95}, {"blank": 0.95}]
    return out


def places_of(*allowed: str) -> list[np.ndarray]:
    return [np.array([INDEX[c] for c in chars], np.int64) for chars in allowed]


def test_clean_output_aligns_one_frame_per_place() -> None:
    probs = ctc_output(frames_of("豫D12345"))
    alignment = align_places(probs, [0], places_of("豫皖", "DX", *["0123456789"] * 5))
    assert alignment is not None
    assert alignment.steps == [[0], [2], [4], [6], [8], [10], [12]]


def test_merged_neighbours_are_split_and_read_twice() -> None:
    """'33' seen as one run of three frames of 3 (no blank between): greedy reads six
    characters, the seven-place template splits the run."""
    frames = [*frames_of("豫D12"), {"3": 0.9}, {"3": 0.9}, {"3": 0.9}, {"blank": 0.95}, *frames_of("5")]
    probs = ctc_output(frames)
    characters = CHARACTERS
    greedy = decode_plate(probs, characters)[0]
    assert greedy == "豫D1235"
    templates = [places_of("豫皖", "DX", *["0123456789"] * 5)]
    text, _, lowest = decode_plate(probs, characters, templates=templates, fits=lambda t: len(t) == 7)
    assert text == "豫D12335" and lowest == pytest.approx(0.9)


def test_faint_character_found_and_a_missing_one_stays_improbable() -> None:
    faint = [*frames_of("豫D12"), {"blank": 0.7, "7": 0.3}, *frames_of("45")]
    templates = [places_of("豫皖", "DX", *["0123456789"] * 5)]
    assert decode_plate(ctc_output(faint), CHARACTERS)[0] == "豫D1245"
    text, _, lowest = decode_plate(ctc_output(faint), CHARACTERS, templates=templates, fits=lambda t: len(t) == 7)
    assert text == "豫D12745" and lowest == pytest.approx(0.3)
    missing = frames_of("豫D1245")
    text, _, lowest = decode_plate(ctc_output(missing), CHARACTERS, templates=templates, fits=lambda t: len(t) == 7)
    assert len(text) == 7 and lowest < 0.05  # the reader's per-character threshold drops it


def test_a_reading_that_fits_is_not_realigned() -> None:
    probs = ctc_output(frames_of("豫D12345"))
    calls: list[str] = []

    def fits(text: str) -> bool:
        calls.append(text)
        return True

    assert decode_plate(probs, CHARACTERS, templates=[places_of("X")], fits=fits)[0] == "豫D12345"
    assert calls == ["豫D12345"]


def test_templates_too_long_for_the_output_or_empty_places_give_none() -> None:
    probs = ctc_output(frames_of("豫D"))
    assert align_places(probs, [0], places_of(*["0123456789"] * 8)) is None
    assert align_places(probs, [0], [np.array([], np.int64)]) is None
    assert align_places(probs, [0], []) is None
    assert best_alignment(probs, [0], [places_of(*["0123456789"] * 8)]) is None


def test_the_most_probable_template_wins() -> None:
    """An eight-character output fits the eight-place template better than the seven-place one."""
    probs = ctc_output(frames_of("豫DD12345"))
    seven = places_of("豫皖", "DX", *["0123456789D"] * 5)
    eight = places_of("豫皖", "DX", "D", *["0123456789"] * 5)
    found = best_alignment(probs, [0], [seven, eight])
    assert found is not None and found[0] == 1


def test_separator_counts_as_blank() -> None:
    frames = [{"豫": 0.95}, {"D": 0.95}, {"·": 0.95}, *frames_of("12345")]
    probs = ctc_output(frames)
    alignment = align_places(probs, blank_ids(CHARACTERS), places_of("豫皖", "DX", *["0123456789"] * 5))
    assert alignment is not None and alignment.steps[2] == [3]


def test_templates_follow_the_grammar_of_each_colour() -> None:
    assert kinds_for_color("blue") == ["ordinary"]
    assert set(kinds_for_color("green")) == {"new_energy_small", "new_energy_large"}
    assert set(kinds_for_color(None)) == set(KIND_PLACES)
    for kind, places in KIND_PLACES.items():
        sample = "".join(allowed[0] for allowed in places)
        parsed = parse_plate(sample)
        assert parsed is not None and parsed.kind == kind, (kind, sample)
    templates = template_indices(CHARACTERS, ["ordinary"])
    assert len(templates) == 1 and len(templates[0]) == 7
    assert [CHARACTERS[i] for i in templates[0][0]] == ["豫", "皖"]
    assert place_indices(CHARACTERS)[0].tolist() == templates[0][0].tolist()
