"""The plate's characters read a second time by small classifiers trained on rendered plates
(`vision.plates.province_training`, `citywatch plates train-province` and `train-serial`): one for
the first character, the province, and one for the letters and digits after it.

A general-purpose text recogniser sees a province character of a 100-pixel-wide plate as ten
blurred pixels and answers with the characters it knows best (皖, 豫); the classifier is trained on
exactly that view: the recogniser's input (the rectified crop scaled to 48 pixels high), a square
window around where the recogniser's CTC output put the first character. Its probabilities and
the recogniser's are combined in `combine_province` (the classifier leads, the recogniser breaks
near-ties). The serial classifier does the same for each later character, over `SERIAL_CLASSES`
(small letters such as W, N and M, or X and 0, blur into each other at that size too).

Example:
    >>> classifier = ProvinceClassifier(Path("models/plate_province.onnx"))  # doctest: +SKIP
    >>> window = province_window(norm_image, center_x=14.0)
    >>> classifier(window[np.newaxis])[0].argmax()  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from vision.plates.grammar import DIGITS, LETTERS, PROVINCES

#: Side of the classifier's square input, in pixels.
WINDOW = 32
#: The recogniser's input height (PP-OCRv4: 48), which the window's side spans before resizing.
LINE_HEIGHT = 48
#: The province classifier's classes, in order.
CLASSES = tuple(PROVINCES)
#: The serial classifier's classes, in order: the letters a plate uses, then the digits.
SERIAL_CLASSES = tuple(LETTERS + DIGITS)


def province_window(line: np.ndarray, center_x: float) -> np.ndarray:
    """The classifier's input (1 x WINDOW x WINDOW, standardised) from the recogniser's input image
    `line` (channels x 48 x width, as RapidOCR normalises it, or a 48-high grey or BGR image): a
    square as high as the line around `center_x`, edge pixels repeated where it overhangs."""
    grey = line.mean(axis=0) if line.ndim == 3 and line.shape[0] in (1, 3) else line
    if grey.ndim == 3:
        grey = grey.mean(axis=2)
    grey = grey.astype(np.float32)
    height = grey.shape[0]
    side = height
    left = round(center_x - side / 2)
    padded = cv2.copyMakeBorder(grey, 0, 0, side, side, cv2.BORDER_REPLICATE)
    square = padded[:, left + side : left + 2 * side]
    if square.shape[1] != side:  # center_x far outside the line: the nearest edge's pixels
        square = padded[:, :side] if left < 0 else padded[:, -side:]
    small = cv2.resize(square, (WINDOW, WINDOW), interpolation=cv2.INTER_AREA)
    std = float(small.std())
    return ((small - float(small.mean())) / (std if std > 1e-3 else 1.0))[np.newaxis]


class ProvinceClassifier:
    """An ONNX character classifier (the province one by default; `classes=SERIAL_CLASSES,
    what="serial"` for the serial one): called with windows (N x 1 x WINDOW x WINDOW), returns
    class probabilities (N x len(classes)). `ValueError` naming the file when it cannot be loaded
    or has another number of classes."""

    def __init__(self, path: Path, threads: int = 1, classes: tuple[str, ...] = CLASSES, what: str = "province"):
        self.classes = classes
        # deferred: onnxruntime loads with the first plate model, not with this module
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ValueError(f"plate {what} classifier {path} cannot be loaded: {exc}") from None
        output = self.session.get_outputs()[0]
        if output.shape[-1] != len(classes):
            raise ValueError(f"plate {what} classifier {path} has {output.shape[-1]} classes, not {len(classes)}")
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        """Probabilities per window (softmax of the model's logits)."""
        logits = self.session.run(None, {self.input_name: windows.astype(np.float32)})[0]
        logits = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)


def combine_province(classifier: np.ndarray, recogniser: np.ndarray, weight: float = 0.1) -> tuple[int, float]:
    """The province (index into CLASSES) and its confidence from the classifier's probabilities and
    the recogniser's (same order): the highest classifier log-probability plus `weight` times the
    recogniser's; the confidence is the classifier's probability of the winner."""
    score = np.log(classifier + 1e-6) + weight * np.log(recogniser + 1e-6)
    choice = int(score.argmax())
    return choice, float(classifier[choice])


def combine_opinions(classifier: np.ndarray, recogniser: np.ndarray, weight: float = 1.0) -> tuple[int, float]:
    """The character (index) and its confidence from two opinions over the same characters, as a
    product of experts: the classifier's probabilities times the recogniser's to the power
    `weight`, normalised; the confidence is the winner's share (both agreeing: high; one sure and
    the other not: the surer one wins, with less)."""
    score = np.log(classifier + 1e-6) + weight * np.log(recogniser + 1e-6)
    posterior = np.exp(score - score.max())
    posterior /= posterior.sum()
    choice = int(posterior.argmax())
    return choice, float(posterior[choice])
