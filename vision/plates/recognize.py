"""Recognising a rectified plate crop with the PP-OCRv4 recogniser, decoded for plates: the model's
CTC output gives where the characters are, and each character is then chosen among those its place
on a plate allows (a province first, a letter second, letters, digits or a use character after),
so a general-purpose reading such as 嘉 or 川 in the serial cannot reach the grammar. A character
the model did not see there gets its (low) probability, which the reader's thresholds then drop.

Example:
    >>> recognizer = PlateRecognizer(TextRecognizer(config))  # doctest: +SKIP
    >>> recognizer([crop])  # doctest: +SKIP
    [('豫D12345', 0.98, 0.91)]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from vision.plates.ctc import best_alignment
from vision.plates.grammar import KIND_PLACES, PROVINCES, kinds_for_color, parse_plate
from vision.plates.province import CLASSES, ProvinceClassifier, combine_opinions, combine_province, province_window

#: How much the recogniser's own probabilities count beside the serial classifier's (log weight).
SERIAL_WEIGHT = 1.0

_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZIO"  # I and O: normalize_plate reads them as 1 and 0 in a serial
_DIGITS = "0123456789"
_USE = "学挂警使领港澳"
#: A second opinion on a later character: (peaks over the place's allowed classes, the segment's
#: time steps, those allowed class indices) -> (index into allowed, confidence), or None.
SerialChooser = Callable[[np.ndarray, list[int], np.ndarray], "tuple[int, float] | None"]
#: What the model may read between characters: the plate's dot and its look-alikes.
SEPARATORS = frozenset("·•.-_ ")
#: The characters each place on a plate may hold: 0 the province, 1 the authority, then the serial.
PLACES = (PROVINCES, _LETTERS, _LETTERS + _DIGITS + _USE)


def place_indices(characters: Sequence[str]) -> list[np.ndarray]:
    """For each of `PLACES`, the class indices of the characters it allows (`characters[i]` is
    class i's text)."""
    return [np.array([i for i, c in enumerate(characters) if c in allowed], np.int64) for allowed in map(set, PLACES)]


def ctc_segments(probs: np.ndarray, characters: Sequence[str]) -> list[list[int]]:
    """The time steps of each character of one CTC output (greedy: a run of the same best class
    is one character; blanks and separators split runs and are dropped)."""
    best = probs.argmax(axis=1)
    segments: list[list[int]] = []
    previous = 0
    for t, index in enumerate(best):
        if index != 0 and characters[index] not in SEPARATORS:
            if index == previous and segments:
                segments[-1].append(t)
            else:
                segments.append([t])
        previous = int(index)
    return segments


def blank_ids(characters: Sequence[str]) -> list[int]:
    """The classes an alignment treats as blank: the CTC blank (class 0) and the separators."""
    return [i for i, c in enumerate(characters) if i == 0 or c in SEPARATORS]


def template_indices(characters: Sequence[str], kinds: Sequence[str]) -> list[list[np.ndarray]]:
    """For each kind of plate, the class indices each of its places allows (`KIND_PLACES`)."""
    return [
        [np.array([i for i, c in enumerate(characters) if c in set(allowed)], np.int64) for allowed in KIND_PLACES[k]]
        for k in kinds
    ]


def decode_plate(
    probs: np.ndarray,
    characters: Sequence[str],
    places: Sequence[np.ndarray] | None = None,
    province: Callable[[np.ndarray, list[int]], tuple[int, float]] | None = None,
    templates: Sequence[Sequence[np.ndarray]] | None = None,
    fits: Callable[[str], bool] | None = None,
    serial: SerialChooser | None = None,
) -> tuple[str, float, float]:
    """Text, mean and lowest character probability of one CTC output (`probs`: time × classes,
    class 0 the blank, `characters[i]` class i's text; `places` from `place_indices`): greedy
    segmentation (`ctc_segments`), each segment's character the most probable one its place
    allows; `province(peaks, steps)`, given the recogniser's probabilities of place 0's allowed
    characters and the first segment's time steps, may choose the first character instead
    (index into place 0's allowed characters, confidence). When that reading does not `fit` the
    plate (by default: never checked) and `templates` (from `template_indices`) are given, the
    output is read again along the best template's alignment (`vision.plates.ctc`).
    `serial(peaks, steps, allowed)` does for each later place what `province` does for the first
    (`allowed`: the class indices of the place; None keeps the recogniser's choice)."""
    places = places if places is not None else place_indices(characters)
    segments = ctc_segments(probs, characters)
    allowed = [places[min(place, len(places) - 1)] for place in range(len(segments))]
    reading = _read_segments(probs, characters, segments, allowed, province, serial)
    if templates and fits is not None and not fits(reading[0]):
        aligned = best_alignment(probs, blank_ids(characters), templates)
        if aligned is not None:
            index, alignment = aligned
            reading = _read_segments(probs, characters, alignment.steps, list(templates[index]), province, serial)
    return reading


def _read_segments(
    probs: np.ndarray,
    characters: Sequence[str],
    segments: Sequence[list[int]],
    allowed: Sequence[np.ndarray],
    province: Callable[[np.ndarray, list[int]], tuple[int, float]] | None,
    serial: SerialChooser | None = None,
) -> tuple[str, float, float]:
    """Each segment's character: the most probable one `allowed` at its place (the province
    chooser's for the first, the serial chooser's, when it has a say, for the others)."""
    text, confidences = [], []
    for place, steps in enumerate(segments):
        if allowed[place].size == 0:
            return "", 0.0, 0.0
        peak = probs[steps][:, allowed[place]].max(axis=0)
        choice, confidence = int(peak.argmax()), float(peak.max())
        if place == 0 and province is not None:
            choice, confidence = province(peak, list(steps))
        elif place > 0 and serial is not None:
            choice, confidence = serial(peak, list(steps), allowed[place]) or (choice, confidence)
        text.append(characters[allowed[place][choice]])
        confidences.append(confidence)
    if not confidences:
        return "", 0.0, 0.0
    return "".join(text), float(np.mean(confidences)), float(min(confidences))


class PlateRecognizer:
    """RapidOCR's `TextRecognizer` (its ONNX session, input normalisation and character list) run on
    plate crops and decoded with `decode_plate`; called with crops, returns (text, mean, lowest
    character probability) per crop.

    Example:
        >>> PlateRecognizer(text_recognizer)([crop])  # doctest: +SKIP
        [('豫D12345', 0.98, 0.91)]
    """

    def __init__(
        self,
        text_recognizer: Any,
        province: ProvinceClassifier | None = None,
        serial: ProvinceClassifier | None = None,
        serial_weight: float = SERIAL_WEIGHT,
    ):
        self.text_recognizer = text_recognizer
        self.province = province
        self.serial = serial
        self.serial_weight = serial_weight
        self.characters: list[str] = list(text_recognizer.postprocess_op.character)
        self.places = place_indices(self.characters)
        # the classifier's class order, as indices into place 0's allowed characters
        allowed = [self.characters[i] for i in self.places[0]]
        self.province_order = np.array([CLASSES.index(c) for c in allowed], np.int64)
        _, height, width = text_recognizer.rec_image_shape
        self.min_ratio = width / height
        self._template_cache: dict[str | None, list[list[np.ndarray]]] = {}

    def __call__(
        self, crops: Sequence[np.ndarray], colors: Sequence[str | None] | None = None
    ) -> list[tuple[str, float, float]]:
        """One (text, mean, lowest) per crop, each run on its own (plates are few per image); with
        the plates' `colors`, a reading that breaks the grammar for its colour is read again along
        the colour's plate templates (`decode_plate`)."""
        out = []
        for i, crop in enumerate(crops):
            h, w = crop.shape[:2]
            norm = self.text_recognizer.resize_norm_img(crop, max(self.min_ratio, w / max(h, 1)))
            probs = self.text_recognizer.session(norm[np.newaxis].astype(np.float32))[0][0]
            color = colors[i] if colors is not None else None
            templates, fits = self._templates(color) if colors is not None else (None, None)
            chooser, serial = self._province_chooser(norm, probs), self._serial_chooser(norm, probs)
            out.append(decode_plate(probs, self.characters, self.places, chooser, templates, fits, serial))
        return out

    def _templates(self, color: str | None) -> tuple[list[list[np.ndarray]], Callable[[str], bool]]:
        """The colour's plate templates (cached) and the test a greedy reading must pass."""
        if color not in self._template_cache:
            self._template_cache[color] = template_indices(self.characters, kinds_for_color(color))
        return self._template_cache[color], lambda text: parse_plate(text, color) is not None

    def _province_chooser(
        self, norm: np.ndarray, probs: np.ndarray
    ) -> Callable[[np.ndarray, list[int]], tuple[int, float]] | None:
        """The classifier's say on the first character of this crop (None without a classifier)."""
        classifier = self.province
        if classifier is None:
            return None

        def choose(peaks: np.ndarray, steps: list[int]) -> tuple[int, float]:
            predicted = _classify_at(classifier, norm, probs, steps)[self.province_order]
            return combine_province(predicted, peaks / max(float(peaks.sum()), 1e-6))

        return choose

    def _serial_chooser(self, norm: np.ndarray, probs: np.ndarray) -> SerialChooser | None:
        """The serial classifier's say on a later character of this crop (None without one): its
        probabilities and the recogniser's (to the power `serial_weight`) multiplied
        (`combine_opinions`), unless the recogniser's own choice is a character the classifier does
        not know (a use character such as 学)."""
        classifier = self.serial
        if classifier is None:
            return None
        known = {c: i for i, c in enumerate(classifier.classes)}

        def choose(peaks: np.ndarray, steps: list[int], allowed: np.ndarray) -> tuple[int, float] | None:
            chars = [_READ_AS.get(self.characters[i], self.characters[i]) for i in allowed]
            if chars[int(peaks.argmax())] not in known:
                return None
            predicted = _classify_at(classifier, norm, probs, steps)
            opinion = np.array([predicted[known[c]] if c in known else 0.0 for c in chars])
            return combine_opinions(opinion, peaks / max(float(peaks.sum()), 1e-6), self.serial_weight)

        return choose


#: normalize_plate's reading of I and O in a serial, for asking the serial classifier about them.
_READ_AS = {"I": "1", "O": "0"}


def _classify_at(classifier: ProvinceClassifier, norm: np.ndarray, probs: np.ndarray, steps: list[int]) -> np.ndarray:
    """The classifier's probabilities for the character at the CTC time `steps` of the
    recogniser's input `norm` (whose output `probs` has one row per step)."""
    center = (float(np.mean(steps)) + 0.5) * norm.shape[2] / probs.shape[0]
    return classifier(province_window(norm, center)[np.newaxis])[0]
