"""Synthetic test footage with known truth, generated from real vtest.avi frames (never committed).

* `litter_clip`: a plastic bag dropped on the grass at `appear_s` and left there;
* `water_clip`: a road region progressively covered by a reflective water layer from `start_s`
  to `full_s`, removed at `recede_s` (the water "drains" at once);
* `arrival_clip`: the parked vehicles hidden behind a patch of kerb until `appear_s`, when they
  appear at once (an arrival at a known frame, while pedestrians keep the scene moving);
* `control_clip`: the same frames untouched.

Clips are written with PyAV (MPEG-4 Part 2 in AVI, high quality) at the source's 10 fps. Each
function returns the truth it built in (times in stream seconds). Used by the tests and, for a
manual evaluation, by `python -m tests.scenarios.synth DIR` (then `CITYWATCH_SYNTH_DIR=DIR
citywatch eval --config configs/eval_synthetic.yaml --truth tests/scenarios/synthetic.yaml`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import cv2
import numpy as np

from tests.support import VTEST

FPS = 10

#: Where the bag lands: on the grass, lower left (pixels, 768x576).
BAG_CENTRE = (205, 430)
#: The road zone the water covers (normalised), and the litter zone (the lower-left grass).
ROAD_ZONE = [[0.56, 0.443], [0.846, 0.443], [0.911, 0.747], [0.729, 0.66]]
GRASS_ZONE = [[0.0, 0.5], [0.45, 0.56], [0.6, 0.75], [0.6, 1.0], [0.0, 1.0]]


def vtest_frames(duration_s: float, source: Path = VTEST) -> Iterator[np.ndarray]:
    """The first `duration_s` seconds of vtest.avi as BGR frames (looping if needed)."""
    wanted = round(duration_s * FPS)
    produced = 0
    while produced < wanted:
        with av.open(str(source)) as container:
            for frame in container.decode(video=0):
                yield frame.to_ndarray(format="bgr24")
                produced += 1
                if produced >= wanted:
                    return


def write_clip(path: Path, frames: Iterator[np.ndarray], edit: Callable[[int, np.ndarray], np.ndarray]) -> Path:
    """Write frames (after `edit(index, frame)`) to an AVI at 10 fps."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=FPS)
        stream.pix_fmt = "yuv420p"
        stream.options = {"qscale": "2"}
        for index, image in enumerate(frames):
            image = edit(index, image)
            if index == 0:
                stream.width, stream.height = image.shape[1], image.shape[0]
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _bag(image: np.ndarray) -> np.ndarray:
    """Draw a crumpled light plastic bag at BAG_CENTRE."""
    out = image.copy()
    cx, cy = BAG_CENTRE
    pts = np.array(
        [
            [cx - 18, cy + 6],
            [cx - 10, cy - 12],
            [cx + 4, cy - 14],
            [cx + 17, cy - 4],
            [cx + 14, cy + 10],
            [cx - 2, cy + 13],
        ],
        np.int32,
    )
    cv2.fillPoly(out, [pts], (235, 225, 220))
    cv2.line(out, (cx - 8, cy - 6), (cx + 6, cy + 8), (170, 160, 150), 2)
    cv2.ellipse(out, (cx + 3, cy - 2), (6, 3), 30, 0, 360, (200, 190, 185), -1)
    return out


def litter_clip(path: Path, appear_s: float = 12.0, duration_s: float = 30.0) -> dict:
    """vtest with a bag on the grass from `appear_s` on; returns the truth."""
    first = round(appear_s * FPS)
    write_clip(path, vtest_frames(duration_s), lambda i, img: _bag(img) if i >= first else img)
    return {
        "appear_s": first / FPS,
        "box": (BAG_CENTRE[0] - 18, BAG_CENTRE[1] - 14, BAG_CENTRE[0] + 17, BAG_CENTRE[1] + 13),
    }


def _road_mask(shape: tuple[int, ...], scale: float) -> np.ndarray:
    """The road zone shrunk about its centre by `scale` (0..1), as a 0/1 mask."""
    h, w = shape[:2]
    poly = np.asarray(ROAD_ZONE) * [w, h]
    centre = poly.mean(axis=0)
    pts = np.round(centre + (poly - centre) * scale).astype(np.int32)
    mask = np.zeros((h, w), np.uint8)
    if scale > 0:
        cv2.fillPoly(mask, [pts.reshape(-1, 1, 2)], 1)
    return mask


def _water(image: np.ndarray, scale: float, index: int) -> np.ndarray:
    """Cover the road zone (shrunk by `scale`) with a smooth reflective water layer."""
    if scale <= 0:
        return image
    h, w = image.shape[:2]
    mask = _road_mask(image.shape, scale).astype(np.float32)
    mask = cv2.GaussianBlur(mask, (9, 9), 0)[..., None]
    ys = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    xs = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    sky = np.empty((h, w, 3), np.float32)  # dark water tinted by a sky reflection, brighter far away
    sky[..., 0] = 175 - 50 * ys + 0 * xs
    sky[..., 1] = 145 - 50 * ys + 0 * xs
    sky[..., 2] = 115 - 50 * ys + 0 * xs
    ripple = 4.0 * np.sin(xs * 90 + ys * 40 + index * 0.6)
    water = sky + ripple[..., None]
    blurred = cv2.GaussianBlur(image, (0, 0), 6).astype(np.float32)  # a faint, smeared scene below
    layer = 0.85 * water + 0.15 * blurred
    out = image.astype(np.float32) * (1 - mask) + layer * mask
    return np.clip(out, 0, 255).astype(np.uint8)


def water_coverage(scale: float) -> float:
    """Share of the road zone the water covers at `scale`."""
    full = _road_mask((576, 768), 1.0).sum()
    return float(_road_mask((576, 768), scale).sum() / full)


def water_clip(
    path: Path,
    start_s: float = 12.0,
    full_s: float = 18.0,
    recede_s: float = 45.0,
    duration_s: float = 54.0,
    threshold: float = 0.3,
) -> dict:
    """vtest with the road zone flooding from `start_s` (none) to `full_s` (all), dry again from
    `recede_s`; returns the truth, including when the coverage first reached `threshold`."""

    def scale_at(t: float) -> float:
        if t < start_s or t >= recede_s:
            return 0.0
        return min(1.0, (t - start_s) / (full_s - start_s))

    write_clip(path, vtest_frames(duration_s), lambda i, img: _water(img, scale_at(i / FPS), i))
    crossed = next(i / FPS for i in range(round(duration_s * FPS)) if water_coverage(scale_at(i / FPS)) >= threshold)
    return {"start_s": start_s, "full_s": full_s, "recede_s": recede_s, "above_threshold_s": crossed}


#: The two parked vehicles (the van and the car at the kerb), pixels of a 768x576 frame.
PARKED_BOX = (636, 30, 768, 110)


def _hide_parked(image: np.ndarray) -> np.ndarray:
    """Cover the parked vehicles with a blurred, flat patch of the kerb's own colour."""
    out = image.copy()
    x1, y1, x2, y2 = PARKED_BOX
    ring = np.concatenate([image[y1 - 8 : y1, x1:x2].reshape(-1, 3), image[y2 : y2 + 8, x1:x2].reshape(-1, 3)])
    out[y1:y2, x1:x2] = np.median(ring, axis=0).astype(np.uint8)
    return out


def arrival_clip(path: Path, appear_s: float = 12.2, duration_s: float = 45.0) -> dict:
    """vtest with the parked vehicles hidden until `appear_s`; returns the truth."""
    first = round(appear_s * FPS)
    write_clip(path, vtest_frames(duration_s), lambda i, img: img if i >= first else _hide_parked(img))
    return {"appear_s": first / FPS, "box": PARKED_BOX, "path": path}


def control_clip(path: Path, duration_s: float = 30.0) -> dict:
    """Untouched vtest frames: no litter, no water."""
    write_clip(path, vtest_frames(duration_s), lambda i, img: img)
    return {}


def generate(directory: Path) -> dict[str, dict]:
    """All three clips into `directory`; their truths by name."""
    directory.mkdir(parents=True, exist_ok=True)
    return {
        "litter": litter_clip(directory / "litter.avi"),
        "water": water_clip(directory / "water.avi"),
        "control": control_clip(directory / "control.avi"),
    }


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "data/synthetic")
    for name, truth in generate(target).items():
        print(name, truth)
