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

from vision.plates.grammar import PROVINCES
from vision.plates.province import CLASSES, ProvinceClassifier, combine_province, province_window

_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZIO"  # I and O: normalize_plate reads them as 1 and 0 in a serial
_DIGITS = "0123456789"
_USE = "学挂警使领港澳"
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


def decode_plate(
    probs: np.ndarray,
    characters: Sequence[str],
    places: Sequence[np.ndarray] | None = None,
    province: Callable[[np.ndarray, list[int]], tuple[int, float]] | None = None,
) -> tuple[str, float, float]:
    """Text, mean and lowest character probability of one CTC output (`probs`: time × classes,
    class 0 the blank, `characters[i]` class i's text; `places` from `place_indices`): greedy
    segmentation (`ctc_segments`), each segment's character the most probable one its place
    allows; `province(peaks, steps)`, given the recogniser's probabilities of place 0's allowed
    characters and the first segment's time steps, may choose the first character instead
    (index into place 0's allowed characters, confidence)."""
    places = places if places is not None else place_indices(characters)
    segments = ctc_segments(probs, characters)
    text, confidences = [], []
    for place, steps in enumerate(segments):
        allowed = places[min(place, len(places) - 1)]
        if allowed.size == 0:
            return "", 0.0, 0.0
        peak = probs[steps][:, allowed].max(axis=0)
        choice, confidence = int(peak.argmax()), float(peak.max())
        if place == 0 and province is not None:
            choice, confidence = province(peak, steps)
        text.append(characters[allowed[choice]])
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

    def __init__(self, text_recognizer: Any, province: ProvinceClassifier | None = None):
        self.text_recognizer = text_recognizer
        self.province = province
        self.characters: list[str] = list(text_recognizer.postprocess_op.character)
        self.places = place_indices(self.characters)
        # the classifier's class order, as indices into place 0's allowed characters
        allowed = [self.characters[i] for i in self.places[0]]
        self.province_order = np.array([CLASSES.index(c) for c in allowed], np.int64)
        _, height, width = text_recognizer.rec_image_shape
        self.min_ratio = width / height

    def __call__(self, crops: Sequence[np.ndarray]) -> list[tuple[str, float, float]]:
        """One (text, mean, lowest) per crop, each run on its own (plates are few per image)."""
        out = []
        for crop in crops:
            h, w = crop.shape[:2]
            norm = self.text_recognizer.resize_norm_img(crop, max(self.min_ratio, w / max(h, 1)))
            probs = self.text_recognizer.session(norm[np.newaxis].astype(np.float32))[0][0]
            out.append(decode_plate(probs, self.characters, self.places, self._province_chooser(norm, probs)))
        return out

    def _province_chooser(
        self, norm: np.ndarray, probs: np.ndarray
    ) -> Callable[[np.ndarray, list[int]], tuple[int, float]] | None:
        """The classifier's say on the first character of this crop (None without a classifier)."""
        classifier = self.province
        if classifier is None:
            return None
        step_width = norm.shape[2] / probs.shape[0]

        def choose(peaks: np.ndarray, steps: list[int]) -> tuple[int, float]:
            center = (float(np.mean(steps)) + 0.5) * step_width
            predicted = classifier(province_window(norm, center)[np.newaxis])[0][self.province_order]
            return combine_province(predicted, peaks / max(float(peaks.sum()), 1e-6))

        return choose
