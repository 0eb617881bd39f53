"""Plates rendered with their truth: the five plate colours with GA 36 proportions and a CJK font,
then the camera's damage (perspective, blur, noise, JPEG loss), composited on crops of real
footage; and plate-less crops for counting false reads. Deterministic for a seed.

Example:
    >>> from vision.plates.render import PlateRenderer
    >>> renderer = PlateRenderer(seed=7)  # doctest: +SKIP
    >>> sample = renderer.sample(width=140)  # doctest: +SKIP
    >>> sample.text, sample.color, sample.image.shape  # doctest: +SKIP
    ('豫D12345', 'blue', (240, 320, 3))
"""

from __future__ import annotations

import functools
import os
import random
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vision.plates.grammar import PROVINCES, parse_plate

#: The CJK font Debian's fonts-wqy-microhei installs (scripts/install-system-deps.sh).
DEFAULT_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_DIGITS = "0123456789"
#: Plate colour: (background BGR, text BGR). Green is drawn as a white-to-green gradient.
_COLORS = {
    "blue": ((180, 70, 10), (255, 255, 255)),
    "yellow": ((20, 190, 240), (20, 20, 20)),
    "green": ((110, 200, 60), (20, 20, 20)),
    "white": ((235, 235, 235), (20, 20, 20)),
    "black": ((25, 25, 25), (255, 255, 255)),
}
#: How often each colour is drawn (blue small cars are most plates on a road).
_COLOR_WEIGHTS = {"blue": 0.5, "yellow": 0.2, "green": 0.2, "white": 0.05, "black": 0.05}
#: GA 36 geometry in millimetres: plate width, character width, spacing, gap after the 2nd character.
_MM = {7: (440, 45, 12, 34), 8: (480, 43, 9.9, 49)}
_PLATE_H_MM, _CHAR_H_MM = 140, 90

#: The shared footage plates are drawn on (../shared/media, README there).
FOOTAGE = ("vtest.avi", "car-detection.mp4")


def _shared_media() -> Path:
    shared = os.environ.get("CITYWATCH_SHARED_DIR")
    return Path(shared) / "media" if shared else Path(__file__).resolve().parents[3] / "shared" / "media"


def footage_frames(every: int = 60, media: Path | None = None) -> list[np.ndarray]:
    """Frames of the shared footage (one every `every`; `media` default $CITYWATCH_SHARED_DIR/media,
    else ../shared/media beside the repository), the backgrounds plates are drawn on; empty when
    the footage is not there."""
    frames = []
    for name in FOOTAGE:
        capture = cv2.VideoCapture(str((media or _shared_media()) / name))
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if index % every == 0:
                frames.append(frame)
            index += 1
        capture.release()
    return frames


@dataclass(frozen=True)
class PlateSample:
    """An image and its truth: `text`/`color` (None for a plate-less image), the plate's corners'
    bounding box in the image and the corners themselves (top-left, top-right, bottom-right,
    bottom-left, float pixels)."""

    image: np.ndarray
    text: str | None
    color: str | None
    box: tuple[int, int, int, int] | None
    corners: np.ndarray | None = None


def random_plate_text(rng: random.Random, color: str) -> str:
    """A text the grammar accepts for a plate of `color`."""
    province, authority = rng.choice(PROVINCES), rng.choice(_LETTERS)
    if color == "green":
        if rng.random() < 0.7:
            serial = rng.choice("DABCEFGHJK") + rng.choice(_LETTERS + _DIGITS) + "".join(rng.choices(_DIGITS, k=4))
        else:
            serial = "".join(rng.choices(_DIGITS, k=5)) + rng.choice("DF")
    else:
        pool = _LETTERS + _DIGITS
        serial = "".join(rng.choice(pool if i < 2 else _DIGITS + _DIGITS + _LETTERS) for i in range(5))
        if color == "yellow" and rng.random() < 0.15:
            serial = serial[:4] + rng.choice("学挂")
        elif color == "white":
            serial = serial[:4] + "警"
    text = province + authority + serial
    assert parse_plate(text, color) is not None, text
    return text


@functools.lru_cache(maxsize=4096)
def _glyph(char: str, font_path: str, font_index: int = 0) -> np.ndarray:
    """The character as a tight grey mask (255 ink), drawn large once per font."""
    font = ImageFont.truetype(font_path, 160, index=font_index)
    canvas = Image.new("L", (220, 220), 0)
    ImageDraw.Draw(canvas).text((30, 10), char, font=font, fill=255)
    mask = np.array(canvas)
    ys, xs = np.nonzero(mask > 40)
    return mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def character_boxes_mm(text: str) -> list[tuple[float, float, float, float]]:
    """Where each character of `text` lies on its plate, (x1, y1, x2, y2) in millimetres from the
    plate's top-left corner (GA 36: one gap after the second character)."""
    width_mm, char_w, spacing, gap = _MM[len(text)]
    total = len(text) * char_w + (len(text) - 2) * spacing + gap
    x, top = (width_mm - total) / 2, (_PLATE_H_MM - _CHAR_H_MM) / 2
    boxes = []
    for i in range(len(text)):
        boxes.append((x, top, x + char_w, top + _CHAR_H_MM))
        x += char_w + (gap if i == 1 else spacing)
    return boxes


def plate_size_mm(text: str) -> tuple[float, float]:
    """The plate's width and height in millimetres for a text of that length."""
    return float(_MM[len(text)][0]), float(_PLATE_H_MM)


def draw_plate(
    text: str, color: str, *, px_per_mm: float = 1.0, font: Path = DEFAULT_FONT, font_index: int = 0
) -> np.ndarray:
    """The flat plate (BGR) at `px_per_mm`: characters stretched to their GA 36 cells, a dot after
    the second, a rim; green plates shaded white to green."""
    width_mm, char_w, spacing, gap = _MM[len(text)]
    w, h = round(width_mm * px_per_mm), round(_PLATE_H_MM * px_per_mm)
    background, ink = _COLORS[color]
    plate = np.empty((h, w, 3), np.uint8)
    plate[:] = background
    if color == "green":
        ramp = np.linspace(0.0, 1.0, h)[:, None, None]
        plate[:] = (255 * (1 - ramp) + np.array(background) * ramp).astype(np.uint8)
    rim = max(1, round(3 * px_per_mm))
    cv2.rectangle(plate, (rim, rim), (w - rim - 1, h - rim - 1), ink, max(1, rim // 2))
    total = len(text) * char_w + (len(text) - 2) * spacing + gap
    x = (width_mm - total) / 2
    top = (_PLATE_H_MM - _CHAR_H_MM) / 2
    for i, char in enumerate(text):
        glyph = _glyph(char, str(font), font_index)
        cw, ch = max(1, round(char_w * px_per_mm)), max(1, round(_CHAR_H_MM * px_per_mm))
        mask = cv2.resize(glyph, (cw, ch), interpolation=cv2.INTER_AREA).astype(np.float32)[..., None] / 255
        x0, y0 = round(x * px_per_mm), round(top * px_per_mm)
        region = plate[y0 : y0 + ch, x0 : x0 + cw].astype(np.float32)
        char_ink = (40, 40, 220) if char == "警" else ink
        plate[y0 : y0 + ch, x0 : x0 + cw] = (region * (1 - mask) + np.array(char_ink) * mask).astype(np.uint8)
        x += char_w + (gap if i == 1 else spacing)
        if i == 1:
            dot = (round((x - gap / 2) * px_per_mm), h // 2)
            cv2.circle(plate, dot, max(1, round(4 * px_per_mm)), ink, -1)
    return plate


class PlateRenderer:
    """Samples of plates on footage, seeded: `sample(width)` a plate `width` pixels wide seen by a
    camera, `blank()` a crop of footage without a plate. `backgrounds` are BGR frames to crop
    from (frames of the project's footage; plain grey when empty)."""

    def __init__(
        self,
        seed: int = 0,
        backgrounds: list[np.ndarray] | None = None,
        font: Path = DEFAULT_FONT,
        font_index: int = 0,
    ):
        self.font_index = font_index
        self.rng = random.Random(seed)
        self.np_rng = np.random.default_rng(seed)
        self.backgrounds = backgrounds or []
        self.font = font

    def color(self) -> str:
        colors, weights = zip(*_COLOR_WEIGHTS.items(), strict=True)
        return self.rng.choices(colors, weights=weights)[0]

    def _background(self, w: int, h: int) -> np.ndarray:
        if not self.backgrounds:
            return np.full((h, w, 3), 110, np.uint8)
        frame = self.rng.choice(self.backgrounds)
        fh, fw = frame.shape[:2]
        if fw < w or fh < h:
            frame = cv2.resize(frame, (max(w, fw), max(h, fh)))
            fh, fw = frame.shape[:2]
        x, y = self.rng.randint(0, fw - w), self.rng.randint(0, fh - h)
        return frame[y : y + h, x : x + w].copy()

    def sample(self, width: int, color: str | None = None, text: str | None = None) -> PlateSample:
        """A plate about `width` pixels wide on a crop of footage, seen at a slant, blurred, noisy
        and JPEG-compressed as a street camera delivers it."""
        color = color or self.color()
        text = text or random_plate_text(self.rng, color)
        px_per_mm = max(0.5, 2.0 * width / _MM[len(text)][0])
        flat = draw_plate(text, color, px_per_mm=px_per_mm, font=self.font, font_index=self.font_index)
        fh, fw = flat.shape[:2]
        h = round(width * fh / fw)
        canvas_w, canvas_h = round(width * 2.2) + 40, round(h * 4) + 40
        canvas = self._background(canvas_w, canvas_h)
        # where the plate's corners land: a slant (yaw, pitch) and a little roll
        x0 = self.rng.uniform(0.15, 0.45) * canvas_w
        y0 = self.rng.uniform(0.3, 0.6) * canvas_h
        skew_x, skew_y = self.rng.uniform(-0.12, 0.12) * width, self.rng.uniform(-0.15, 0.15) * h
        shrink = self.rng.uniform(0.0, 0.12) * h
        corners = np.asarray(
            [
                [x0, y0 + skew_y],
                [x0 + width, y0 - skew_y + shrink],
                [x0 + width + skew_x, y0 + h - skew_y],
                [x0 + skew_x, y0 + h + skew_y - shrink],
            ],
            np.float32,
        )
        source = np.asarray([[0, 0], [fw, 0], [fw, fh], [0, fh]], np.float32)
        warp = cv2.getPerspectiveTransform(source, corners)
        plate = cv2.warpPerspective(flat, warp, (canvas_w, canvas_h), flags=cv2.INTER_AREA)
        mask = cv2.warpPerspective(np.full((fh, fw), 255, np.uint8), warp, (canvas_w, canvas_h))
        image = np.where(mask[..., None] > 127, plate, canvas)
        image = self._damage(image)
        x1, y1 = corners.min(axis=0)
        x2, y2 = corners.max(axis=0)
        return PlateSample(image, text, color, (int(x1), int(y1), int(np.ceil(x2)), int(np.ceil(y2))), corners)

    def blank(self, width: int = 320, height: int = 240) -> PlateSample:
        """A crop of footage with no plate, damaged the same way."""
        return PlateSample(self._damage(self._background(width, height)), None, None, None)

    def _damage(self, image: np.ndarray) -> np.ndarray:
        rng = self.rng
        if rng.random() < 0.6:
            k = rng.choice([3, 5])
            image = cv2.GaussianBlur(image, (k, k), rng.uniform(0.3, 1.2))
        if rng.random() < 0.3:  # a little motion blur
            k = rng.choice([3, 5])
            kernel = np.zeros((k, k), np.float32)
            kernel[k // 2, :] = 1.0 / k
            image = cv2.filter2D(image, -1, kernel)
        noise = self.np_rng.normal(0.0, rng.uniform(0.0, 8.0), image.shape)
        image = np.clip(image.astype(np.float32) + noise, 0, 255).astype(np.uint8)
        quality = rng.randint(35, 90)
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        assert ok
        return np.asarray(cv2.imdecode(jpeg, cv2.IMREAD_COLOR))
