"""Composed footage with known truth for the bay-occupation and floating-debris rules (never
committed: written into a temp dir by the tests, or by `python -m tests.scenarios.compose DIR`).

* `bay_clip`: vtest.avi's frames, one per output frame at 2 fps (so 80 s of source become minutes
  of stream time, pedestrians hurrying), with a traffic cone drawn in a road bay from `appear_s` to
  `remove_s`; `bay_control`: the same frames without the cone.
* `water_clip`: a synthetic river surface (moving ripple texture, flickering glare, sensor noise)
  at 5 fps with a bottle drifting in from the left edge at `appear_s`; `water_control`: the
  surface alone.

Clips are written with OpenCV (Motion-JPEG in AVI). Each function returns the truth it built in
(stream seconds). Then: `CITYWATCH_COMPOSED_DIR=DIR citywatch eval --config
configs/eval_occupancy.yaml --truth tests/scenarios/occupancy.yaml` (and `eval_debris.yaml`,
`debris.yaml`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

from tests.support import VTEST

BAY_FPS = 2.0
WATER_FPS = 5.0
#: The road bay (normalised), right of the lamp post between the painted lines, and the cone in it.
BAY_ZONE = [[0.58, 0.44], [0.74, 0.44], [0.76, 0.6], [0.6, 0.6]]
CONE_BASE = (515, 328)  # pixels (768x576): the cone's bottom centre
#: The water zone: the whole synthetic surface but a margin (normalised).
WATER_ZONE = [[0.02, 0.05], [0.98, 0.05], [0.98, 0.95], [0.02, 0.95]]
WATER_SIZE = (640, 360)
DRIFT_PX_S = 6.0  # the bottle's drift, pixels per second (0.009 image widths per second)


def write_clip(path: Path, frames: Iterator[np.ndarray], fps: float) -> Path:
    """Write BGR frames to a Motion-JPEG AVI at `fps` with OpenCV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer: cv2.VideoWriter | None = None
    try:
        for image in frames:
            if writer is None:
                fourcc = cv2.VideoWriter_fourcc(*"MJPG")
                writer = cv2.VideoWriter(str(path), fourcc, fps, (image.shape[1], image.shape[0]))
                if not writer.isOpened():
                    raise RuntimeError(f"OpenCV cannot write {path}")
            writer.write(image)
    finally:
        if writer is not None:
            writer.release()
    return path


def source_frames(count: int, source: Path = VTEST) -> Iterator[np.ndarray]:
    """The first `count` frames of a video (looping if it is shorter)."""
    produced = 0
    while produced < count:
        capture = cv2.VideoCapture(str(source))
        try:
            while produced < count:
                ok, image = capture.read()
                if not ok:
                    break
                produced += 1
                yield image
        finally:
            capture.release()


def draw_cone(image: np.ndarray, base: tuple[int, int] = CONE_BASE, height: int = 42) -> np.ndarray:
    """A traffic cone (orange, two white bands, dark base) standing at `base` (bottom centre)."""
    out = image.copy()
    x, y = base
    half = height * 0.32
    cv2.rectangle(out, (int(x - half - 5), y - 5), (int(x + half + 5), y), (40, 40, 40), -1)
    body = np.array([[x - half, y - 5], [x + half, y - 5], [x + 3, y - height], [x - 3, y - height]], np.int32)
    cv2.fillPoly(out, [body], (0, 110, 255))
    for frac in (0.35, 0.65):
        yy = int(y - 5 - frac * (height - 5))
        w = half * (1 - frac) + 3 * frac
        cv2.line(out, (int(x - w), yy), (int(x + w), yy), (245, 245, 245), 4)
    return out


def cone_box(base: tuple[int, int] = CONE_BASE, height: int = 42) -> tuple[int, int, int, int]:
    half = int(height * 0.32) + 5
    return base[0] - half, base[1] - height, base[0] + half, base[1]


def bay_clip(path: Path, appear_s: float = 20.0, remove_s: float = 150.0, duration_s: float = 180.0) -> dict:
    """vtest frames at 2 fps with a cone in the bay from `appear_s` to `remove_s`; the truth."""
    first, last = round(appear_s * BAY_FPS), round(remove_s * BAY_FPS)
    frames = source_frames(round(duration_s * BAY_FPS))
    edited = (draw_cone(img) if first <= i < last else img for i, img in enumerate(frames))
    write_clip(path, edited, BAY_FPS)
    return {"appear_s": first / BAY_FPS, "remove_s": last / BAY_FPS, "box": cone_box()}


def bay_control(path: Path, duration_s: float = 180.0) -> dict:
    write_clip(path, source_frames(round(duration_s * BAY_FPS)), BAY_FPS)
    return {}


def water_surface(t: float, rng: np.random.Generator, size: tuple[int, int] = WATER_SIZE) -> np.ndarray:
    """The river at stream time `t`: a green-brown base, ripples travelling downstream and across,
    glare where ripple crests meet (flickering), and sensor noise."""
    width, height = size
    ys = np.arange(height, dtype=np.float32)[:, None]
    xs = np.arange(width, dtype=np.float32)[None, :]
    ripple = (
        9 * np.sin(xs / 7.0 - 2.2 * t + ys / 23.0)
        + 7 * np.sin(ys / 5.0 + 1.7 * t - xs / 31.0)
        + 4 * np.sin((xs + ys) / 3.3 - 3.1 * t)
    )
    grey = 85 + ys * 0.08 + ripple
    crest = np.sin(xs / 11.0 + 1.3 * t) * np.sin(ys / 9.0 - 0.9 * t)
    flicker = rng.random((height, width)) < 0.5
    grey = np.where((crest > 0.93) & flicker & (ys < height * 0.6), 235.0, grey)
    grey = grey + rng.normal(0, 3, (height, width))
    grey = np.clip(grey, 0, 255).astype(np.uint8)
    image = np.stack([grey * 0.95 + 8, grey * 1.0 + 6, grey * 0.8], axis=2)
    return np.clip(image, 0, 255).astype(np.uint8)


def draw_bottle(image: np.ndarray, centre: tuple[float, float], bob: float) -> np.ndarray:
    """A floating white plastic bottle with a blue cap, lying along the current."""
    out = image.copy()
    cx, cy = round(centre[0]), round(float(centre[1] + bob))
    cv2.ellipse(out, (cx, cy), (16, 7), 8, 0, 360, (225, 230, 232), -1)
    cv2.ellipse(out, (cx - 4, cy - 2), (8, 3), 8, 0, 360, (250, 250, 250), -1)
    cv2.rectangle(out, (cx + 15, cy - 3), (cx + 21, cy + 3), (190, 90, 20), -1)
    return out


def bottle_at(t: float, appear_s: float, size: tuple[int, int] = WATER_SIZE) -> tuple[float, float]:
    """Where the bottle is at stream time `t` (it enters at the left edge at `appear_s`)."""
    return 10.0 + DRIFT_PX_S * (t - appear_s), size[1] * 0.55


def _water_frames(
    duration_s: float, edit: Callable[[float, np.ndarray], np.ndarray], seed: int
) -> Iterator[np.ndarray]:
    rng = np.random.default_rng(seed)
    for i in range(round(duration_s * WATER_FPS)):
        t = i / WATER_FPS
        yield edit(t, water_surface(t, rng))


def water_clip(path: Path, appear_s: float = 15.0, duration_s: float = 80.0, seed: int = 7) -> dict:
    """The surface with a bottle drifting in at `appear_s`; the truth (it is in the zone, fully in
    view, from `inside_s`)."""

    def edit(t: float, image: np.ndarray) -> np.ndarray:
        if t < appear_s:
            return image
        return draw_bottle(image, bottle_at(t, appear_s), 1.5 * np.sin(2.0 * t))

    write_clip(path, _water_frames(duration_s, edit, seed), WATER_FPS)
    inside_s = appear_s + (WATER_ZONE[0][0] * WATER_SIZE[0] + 21 - 10.0) / DRIFT_PX_S
    return {"appear_s": appear_s, "inside_s": round(inside_s, 2), "drift_px_s": DRIFT_PX_S}


def water_control(path: Path, duration_s: float = 80.0, seed: int = 11) -> dict:
    write_clip(path, _water_frames(duration_s, lambda t, img: img, seed), WATER_FPS)
    return {}


def generate_bay(directory: Path) -> dict[str, dict]:
    """The clips of configs/eval_occupancy.yaml into `directory`; the truth of each."""
    return {"bay": bay_clip(directory / "bay.avi"), "bay_control": bay_control(directory / "bay-control.avi")}


def generate_water(directory: Path) -> dict[str, dict]:
    """The clips of configs/eval_debris.yaml into `directory`; the truth of each."""
    return {
        "water": water_clip(directory / "water.avi"),
        "water_control": water_control(directory / "water-control.avi"),
    }


def generate(directory: Path) -> dict[str, dict]:
    """Write every clip into `directory`; the truth of each."""
    return {**generate_bay(directory), **generate_water(directory)}


if __name__ == "__main__":
    print(json.dumps(generate(Path(sys.argv[1] if len(sys.argv) > 1 else "data/composed")), indent=2))
