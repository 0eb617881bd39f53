"""Reading licence plates in an image: the `PlateReader` protocol and `OcrPlateReader`, PaddleOCR's
PP-OCRv4 text detector and recogniser (RapidOCR's ONNX models, run with onnxruntime). Text boxes
shaped like a plate are rectified, small ones upscaled, recognised, and kept only when the reading
follows the plate grammar, with the plate's colour estimated from the crop.

Example:
    >>> models = PlateModels(det=Path("ch_PP-OCRv4_det_infer.onnx"), rec=Path("ch_PP-OCRv4_rec_infer.onnx"))
    >>> reader = open_plate_reader(models)  # doctest: +SKIP
    >>> reader.read(cv2.imread("car.jpg"))  # doctest: +SKIP
    [PlateResult(text='豫D12345', color='blue', confidence=0.97, box=(412, 380, 530, 418))]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from vision.plates.color import plate_color
from vision.plates.grammar import parse_plate
from vision.plates.province import SERIAL_CLASSES, ProvinceClassifier
from vision.plates.recognize import PlateRecognizer


@dataclass(frozen=True, slots=True)
class PlateResult:
    """One plate read in an image: `text` as the grammar writes it (no dot), `color` one of
    `PLATE_COLORS`, the recogniser's `confidence` (0-1) and the plate's `box` (x1, y1, x2, y2) in the
    image's pixels."""

    text: str
    color: str
    confidence: float
    box: tuple[int, int, int, int]


class PlateReader(Protocol):
    """Anything that reads the plates of a BGR image (as `OcrPlateReader`)."""

    def read(self, image_bgr: np.ndarray) -> list[PlateResult]:
        """Every grammatical plate reading in the image, most confident first."""
        ...


@dataclass(frozen=True)
class PlateModels:
    """The model files a reader runs: the text detector, the text recogniser and, when the store
    has them, the province and serial character classifiers (checked by the model store before
    they get here)."""

    det: Path
    rec: Path
    province: Path | None = None
    serial: Path | None = None


@dataclass(frozen=True)
class ReaderTuning:
    """The reader's knobs: text boxes whose width/height lies in `aspect`, at least `min_width`
    and `min_height` pixels, are plate candidates (narrower plates are read wrong more often than
    right: docs/benchmarks.md, "Plates");
    crops narrower than `upscale_below` pixels are enlarged to `upscale_to` before recognition;
    readings under `min_confidence` (mean character probability) or with a character under
    `min_char_confidence` are dropped; each box is cropped once per value of `pads` (widened by
    that times its height on each side) and the variants vote (`vote_variants`); the detector
    sees the image scaled so that its long side is at most `det_side` and its short side at least
    `det_min_side`."""

    aspect: tuple[float, float] = (1.8, 8.0)
    min_height: int = 8
    min_width: int = 80
    upscale_below: int = 160
    upscale_to: int = 240
    min_confidence: float = 0.75
    min_char_confidence: float = 0.01
    pads: tuple[float, ...] = (0.3,)
    det_side: int = 960
    det_min_side: int = 320


def order_corners(points: np.ndarray) -> np.ndarray:
    """Four points as top-left, top-right, bottom-right, bottom-left."""
    pts = np.asarray(points, np.float32).reshape(4, 2)
    by_sum, by_diff = pts.sum(axis=1), np.diff(pts, axis=1).ravel()
    corners = [pts[by_sum.argmin()], pts[by_diff.argmin()], pts[by_sum.argmax()], pts[by_diff.argmax()]]
    return np.array(corners, np.float32)


def quad_size(quad: np.ndarray) -> tuple[float, float]:
    """Width and height of an ordered quadrilateral (the longer of each pair of sides)."""
    tl, tr, br, bl = quad
    width = max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl))
    height = max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr))
    return float(width), float(height)


def merge_line_boxes(quads: list[np.ndarray]) -> list[np.ndarray]:
    """Text boxes of one plate the detector split (at the dot after the second character) merged:
    boxes of similar height whose vertical centres agree and that lie less than a height apart
    become their minimum-area rectangle."""
    boxes = sorted((order_corners(q) for q in quads), key=lambda q: float(q[:, 0].min()))
    merged: list[np.ndarray] = []
    for quad in boxes:
        if merged:
            last = merged[-1]
            _, h1 = quad_size(last)
            _, h2 = quad_size(quad)
            gap = float(quad[:, 0].min() - last[:, 0].max())
            same_line = abs(float(quad[:, 1].mean() - last[:, 1].mean())) < 0.35 * max(h1, h2)
            if same_line and 0.6 < h1 / max(h2, 1e-6) < 1.6 and gap < max(h1, h2):
                rect = cv2.minAreaRect(np.concatenate([last, quad]).astype(np.float32))
                merged[-1] = order_corners(cv2.boxPoints(rect))
                continue
        merged.append(quad)
    return merged


def is_plate_shaped(quad: np.ndarray, tuning: ReaderTuning) -> bool:
    """Whether a text box's proportions are a plate's (one line of seven or eight characters)."""
    width, height = quad_size(quad)
    low, high = tuning.aspect
    big_enough = height >= tuning.min_height and width >= tuning.min_width
    return big_enough and low <= width / max(height, 1e-6) <= high


def pad_quad(quad: np.ndarray, pad: float) -> np.ndarray:
    """The quadrilateral widened on each side by `pad` times its height (a box the detector drew
    tight around the characters then keeps the first and last one whole)."""
    if pad <= 0:
        return quad
    tl, tr, br, bl = quad
    _, height = quad_size(quad)
    along = (tr - tl) / max(float(np.linalg.norm(tr - tl)), 1e-6) * pad * height
    return np.array([tl - along, tr + along, br + along, bl - along], np.float32)


def rectify(image: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """The box's content warped to an upright rectangle."""
    width, height = quad_size(quad)
    w, h = max(1, round(width)), max(1, round(height))
    target = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    warp = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
    return cv2.warpPerspective(image, warp, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def upscale(crop: np.ndarray, tuning: ReaderTuning) -> np.ndarray:
    """A crop narrower than `upscale_below` enlarged (bicubic) to `upscale_to` pixels wide."""
    h, w = crop.shape[:2]
    if w >= tuning.upscale_below:
        return crop
    size = (int(tuning.upscale_to), max(1, round(h * tuning.upscale_to / w)))
    return cv2.resize(crop, size, interpolation=cv2.INTER_CUBIC)


def detection_scale(shape: tuple[int, ...], tuning: ReaderTuning) -> float:
    """How much to scale an image for the text detector: long side at most `det_side`, short side
    at least `det_min_side` (small crops of a vehicle are enlarged so that their plate is found)."""
    h, w = shape[:2]
    scale = tuning.det_min_side / min(h, w) if min(h, w) < tuning.det_min_side else 1.0
    return min(scale, tuning.det_side / max(h, w))


def _box_of(quad: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    h, w = shape[:2]
    x1, y1 = np.floor(quad.min(axis=0))
    x2, y2 = np.ceil(quad.max(axis=0))
    return (max(0, int(x1)), max(0, int(y1)), min(w, int(x2)), min(h, int(y2)))


class OcrPlateReader:
    """Plates read with PP-OCRv4: `detector(image)` gives text quadrilaterals, `recognizer(crops,
    colors)` (text, mean, lowest character probability) triples (RapidOCR's `TextDetector`, and its
    `TextRecognizer` decoded for plates by `PlateRecognizer`, or anything called the same way).
    Built by `open_plate_reader` from model files.

    Example:
        >>> reader = open_plate_reader(models)  # doctest: +SKIP
        >>> [r.text for r in reader.read(image)]  # doctest: +SKIP
        ['豫D12345']
    """

    def __init__(self, detector: Any, recognizer: Any, tuning: ReaderTuning | None = None):
        self.detector = detector
        self.recognizer = recognizer
        self.tuning = tuning or ReaderTuning()

    def candidates(self, image_bgr: np.ndarray) -> list[np.ndarray]:
        """Plate-shaped text boxes in the image's pixels (ordered quadrilaterals)."""
        scale = detection_scale(image_bgr.shape, self.tuning)
        scaled = image_bgr
        if abs(scale - 1.0) > 1e-3:
            size = (max(1, round(image_bgr.shape[1] * scale)), max(1, round(image_bgr.shape[0] * scale)))
            scaled = cv2.resize(image_bgr, size, interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)
        quads, _ = self.detector(scaled)
        if quads is None or len(quads) == 0:
            return []
        boxes = merge_line_boxes([np.asarray(q, np.float32) / scale for q in quads])
        return [q for q in boxes if is_plate_shaped(q, self.tuning)]

    def read(self, image_bgr: np.ndarray) -> list[PlateResult]:
        """Every grammatical reading of a plate-shaped text box, most confident first."""
        if image_bgr is None or image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or min(image_bgr.shape[:2]) < 8:
            return []
        quads = self.candidates(image_bgr)
        if not quads:
            return []
        pads = self.tuning.pads
        crops = [rectify(image_bgr, pad_quad(quad, pad)) for quad in quads for pad in pads]
        colors = [plate_color(crops[i * len(pads)]) for i in range(len(quads))]
        readings = self.recognizer([upscale(crop, self.tuning) for crop in crops], [c for c in colors for _ in pads])
        results = []
        for i, quad in enumerate(quads):
            color = colors[i]
            best = vote_variants(readings[i * len(pads) : (i + 1) * len(pads)], color, self.tuning)
            if best is not None:
                results.append(PlateResult(best[0], color, best[1], _box_of(quad, image_bgr.shape)))
        return sorted(results, key=lambda r: -r.confidence)


def vote_variants(
    readings: Sequence[tuple[str, float, float]], color: str, tuning: ReaderTuning
) -> tuple[str, float] | None:
    """One plate's text from the readings of its crop variants (one per pad): readings with a
    character under `min_char_confidence` or breaking the grammar for `color` are dropped, the
    text with the highest summed confidence wins, and its confidence is that sum over the number
    of variants (variants that disagree lower it); None when it is under `min_confidence`."""
    sums: dict[str, float] = {}
    for raw, confidence, lowest in readings:
        parsed = parse_plate(raw, color) if lowest >= tuning.min_char_confidence else None
        if parsed is not None:
            sums[parsed.text] = sums.get(parsed.text, 0.0) + confidence
    if not sums:
        return None
    text = max(sums, key=lambda t: sums[t])
    confidence = sums[text] / max(1, len(readings))
    return (text, round(confidence, 4)) if confidence >= tuning.min_confidence else None


def open_plate_reader(models: PlateModels, threads: int = 1, tuning: ReaderTuning | None = None) -> OcrPlateReader:
    """An `OcrPlateReader` on the given model files; `ValueError` naming the file when RapidOCR is
    not installed or onnxruntime cannot load a model."""
    try:
        # deferred: RapidOCR (and its pyclipper/shapely) loads only when plates are read
        from rapidocr_onnxruntime.ch_ppocr_det import TextDetector
        from rapidocr_onnxruntime.ch_ppocr_rec import TextRecognizer
    except ImportError as exc:
        raise ValueError(
            f"plate reading needs rapidocr_onnxruntime ({exc}); install it with scripts/install.sh or "
            "`pip install --no-deps rapidocr_onnxruntime==1.4.4 pyclipper shapely six`"
        ) from None
    session = {"intra_op_num_threads": threads, "inter_op_num_threads": 1, "use_cuda": False, "use_dml": False}
    tuning = tuning or ReaderTuning()
    det_config = {
        **session,
        "model_path": str(models.det),
        "limit_side_len": 10_000,  # the reader scales the image itself (detection_scale)
        "limit_type": "max",
        "mean": [0.5, 0.5, 0.5],
        "std": [0.5, 0.5, 0.5],
        "thresh": 0.3,
        "box_thresh": 0.5,
        "max_candidates": 1000,
        "unclip_ratio": 1.6,
        "use_dilation": True,
        "score_mode": "fast",
    }
    rec_config = {**session, "model_path": str(models.rec), "rec_batch_num": 6, "rec_img_shape": [3, 48, 320]}
    try:
        detector = TextDetector(det_config)
    except Exception as exc:
        raise ValueError(f"plate text detector {models.det} cannot be loaded: {exc}") from None
    try:
        text_recognizer = TextRecognizer(rec_config)
    except Exception as exc:
        raise ValueError(f"plate text recogniser {models.rec} cannot be loaded: {exc}") from None
    province = ProvinceClassifier(models.province, threads) if models.province else None
    serial = ProvinceClassifier(models.serial, threads, SERIAL_CLASSES, "serial") if models.serial else None
    recognizer = PlateRecognizer(text_recognizer, province, serial)
    return OcrPlateReader(detector, recognizer, tuning)
