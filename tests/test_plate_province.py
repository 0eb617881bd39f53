"""The plate's characters read a second time (issue #16): the window cut around a character the
recogniser found, the combination of the classifier's and the recogniser's probabilities, the CTC
decoder handing place 0 to the province classifier and later places to the serial one (never a
use character it does not know), and (tiny) training runs offline that the model store then
serves to the reader, a corrupt model failing with its path.

The training test renders plates in the machine's CJK fonts and trains for one short epoch with
torch on CPU; it is marked `footage` (real models), like the reader's tests."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest

from citywatch import cli
from citywatch.commands.plates import PROVINCE_FILE, SERIAL_FILE, plate_models, province_model
from citywatch.detectors import SERIAL_BACKEND, plate_classifier
from citywatch.modelstore import ModelStoreError
from vision.plates.province import (
    CLASSES,
    SERIAL_CLASSES,
    WINDOW,
    ProvinceClassifier,
    combine_province,
    province_window,
)
from vision.plates.province_training import available_fonts, make_windows
from vision.plates.recognize import decode_plate, place_indices
from vision.plates.render import DEFAULT_FONT


def test_window_is_a_standardised_square_around_the_centre() -> None:
    line = np.zeros((3, 48, 200), np.float32)
    line[:, 10:38, 20:40] = 1.0  # a bright "character" centred at x = 30
    window = province_window(line, center_x=30.0)
    assert window.shape == (1, WINDOW, WINDOW)
    assert abs(float(window.mean())) < 1e-4 and abs(float(window.std()) - 1.0) < 1e-3
    middle = window[0, WINDOW // 2, WINDOW // 2]
    assert middle > 0.5, "the character lies in the window's middle"
    shifted = province_window(line, center_x=150.0)  # far from the character: nothing bright there
    assert float(shifted.max() - shifted.min()) < 1e-3


def test_window_at_the_line_edge_repeats_the_edge() -> None:
    line = np.tile(np.linspace(0, 1, 60, dtype=np.float32), (48, 1))
    assert province_window(line, center_x=0.0).shape == (1, WINDOW, WINDOW)
    assert province_window(line, center_x=-500.0).shape == (1, WINDOW, WINDOW)


def test_classifier_leads_and_the_recogniser_breaks_near_ties() -> None:
    classifier = np.full(len(CLASSES), 0.01)
    classifier[3], classifier[7] = 0.6, 0.1
    recogniser = np.full(len(CLASSES), 0.001)
    recogniser[7] = 0.99  # the recogniser's favourite (its 皖-like habit)
    assert combine_province(classifier, recogniser)[0] == 3
    near_tie = classifier.copy()
    near_tie[3], near_tie[7] = 0.40, 0.38
    assert combine_province(near_tie, recogniser, weight=0.3)[0] == 7
    assert combine_province(classifier, recogniser)[1] == pytest.approx(0.6)


def test_decoder_lets_the_province_chooser_pick_the_first_character() -> None:
    characters = ["blank", "皖", "豫", "D", "1", "2", "3", "4", "5"]
    places = place_indices(characters)
    text = "皖D12345"
    probs = np.full((len(text) * 2, len(characters)), 1e-4)
    for i, char in enumerate(text):
        probs[2 * i, characters.index(char)] = 0.99
        probs[2 * i + 1, 0] = 0.99  # a blank between characters
    assert decode_plate(probs, characters, places)[0] == "皖D12345"
    seen: list[list[int]] = []

    def chooser(peaks: np.ndarray, steps: list[int]) -> tuple[int, float]:
        seen.append(steps)
        return [characters[i] for i in places[0]].index("豫"), 0.9

    text_out, mean, lowest = decode_plate(probs, characters, places, chooser)
    assert text_out == "豫D12345" and seen == [[0]]
    assert lowest == pytest.approx(0.9) and mean < 0.99


def test_decoder_lets_the_serial_chooser_pick_later_characters() -> None:
    characters = ["blank", "豫", "D", "N", "W", "1", "2", "3", "学"]
    places = place_indices(characters)
    text = "豫DN123学"
    probs = np.full((len(text) * 2, len(characters)), 1e-4)
    for i, char in enumerate(text):
        probs[2 * i, characters.index(char)] = 0.99
        probs[2 * i + 1, 0] = 0.99
    asked: list[int] = []

    def serial(peaks: np.ndarray, steps: list[int], allowed: np.ndarray) -> tuple[int, float] | None:
        asked.append(steps[0])
        chars = [characters[i] for i in allowed]
        if chars[int(peaks.argmax())] == "学":
            return None  # the recogniser's use character stands
        return (chars.index("W"), 0.8) if chars[int(peaks.argmax())] == "N" else None

    text_out, _, lowest = decode_plate(probs, characters, places, serial=serial)
    assert text_out == "豫DW123学" and lowest == pytest.approx(0.8)
    assert asked == [2, 4, 6, 8, 10, 12], "every place after the province, none before"


pytestmark_fonts = pytest.mark.skipif(not DEFAULT_FONT.is_file(), reason="fonts-wqy-microhei not installed")


@pytestmark_fonts
def test_training_windows_are_labelled_and_vary() -> None:
    fonts = available_fonts()
    assert all(Path(path) != DEFAULT_FONT for path, _ in fonts), "the harness font is held out"
    windows, labels = make_windows(40, seed=3, fonts=fonts, backgrounds=[])
    assert windows.shape == (40, 1, WINDOW, WINDOW) and labels.shape == (40,)
    assert set(labels) <= set(range(len(CLASSES))) and len(set(labels.tolist())) > 10
    assert float(np.abs(windows[0].astype(np.float32) - windows[1].astype(np.float32)).mean()) > 0.1
    serial_windows, serial_labels = make_windows(40, seed=3, fonts=fonts, backgrounds=[], kind="serial")
    assert serial_windows.shape == (40, 1, WINDOW, WINDOW)
    assert set(serial_labels) <= set(range(len(SERIAL_CLASSES))) and len(set(serial_labels.tolist())) > 10


def train_offline(kind: str, store: Path, samples: int, monkeypatch: pytest.MonkeyPatch) -> int:
    """`citywatch plates train-KIND` into `store` for one epoch with the network patched away."""

    def no_network(*args: object, **kwargs: object) -> None:
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    return cli.main(["plates", f"train-{kind}", "--out-dir", str(store), "--samples", str(samples), "--epochs", "1"])


@pytest.mark.footage
@pytestmark_fonts
def test_a_short_offline_training_is_stored_and_served_to_the_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    code = train_offline("province", store, 600, monkeypatch)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "held-out font wqy-microhei.ttc" in out
    model = store / PROVINCE_FILE
    assert province_model([str(store)]) == model
    probs = ProvinceClassifier(model)(np.zeros((2, 1, WINDOW, WINDOW), np.float32))
    assert probs.shape == (2, len(CLASSES)) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    model.write_bytes(model.read_bytes()[:-40] + b"\0" * 40)  # corrupt: the checksum no longer matches
    with pytest.raises(ModelStoreError, match=str(model)):
        plate_models(["models", str(store)])


@pytest.mark.footage
@pytestmark_fonts
def test_a_serial_classifier_trained_offline_is_served_beside_the_province_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    code = train_offline("serial", store, 400, monkeypatch)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "serial letters and digits right" in out
    model = store / SERIAL_FILE
    assert plate_classifier([str(store)], SERIAL_BACKEND) == model
    assert plate_models(["models", str(store)]).serial == model
    probs = ProvinceClassifier(model, classes=SERIAL_CLASSES, what="serial")(np.zeros((1, 1, WINDOW, WINDOW)))
    assert probs.shape == (1, len(SERIAL_CLASSES))
    with pytest.raises(ValueError, match=f"plate province classifier {model} has 34 classes"):
        ProvinceClassifier(model)  # a serial model where the province one belongs is refused
