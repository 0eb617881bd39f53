"""Model-free waterlogging baseline: how much of a road zone looks wet against a dry reference.

`DryReference` learns the dry scene of one camera (the median of its first `reference_s` stream
seconds, or a given image). `water_fraction` splits the zone into cells and calls a cell wet when
its colour changed (Lab distance from the reference) *and* it lost texture (standing water is
smooth: mean |Laplacian| drops), turned brighter (reflections of the sky) or bluer (a sky tint on
dark water: Lab b* falls). Cells covered by
tracked persons or vehicles are left out of both counts. The result is the wet share of the
zone's cells, 0..1.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from vision.zones import Zone

Box = tuple[float, float, float, float]


class DryReference:
    """The dry scene of one camera, learned from its first frames or loaded from an image."""

    def __init__(self, reference_s: float = 10.0, image: np.ndarray | None = None, max_frames: int = 40):
        self.reference_s = reference_s
        self.max_frames = max_frames
        self.image: np.ndarray | None = image
        self._frames: list[np.ndarray] = []
        self._start_s: float | None = None

    @property
    def ready(self) -> bool:
        return self.image is not None

    def learn(self, image: np.ndarray, now_s: float) -> bool:
        """Feed a frame; True once the reference is ready."""
        if self.image is not None:
            return True
        if self._start_s is None:
            self._start_s = now_s
        self._frames.append(image)
        if len(self._frames) > self.max_frames:
            self._frames = self._frames[::2]
        if now_s - self._start_s >= self.reference_s:
            self.image = np.median(np.stack(self._frames), axis=0).astype(np.uint8)
            self._frames = []
        return self.image is not None


def _cell_stats(image: np.ndarray, cell: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-cell mean Lab colour [H', W', 3] and mean |Laplacian| of L [H', W']."""
    lab = cv2.cvtColor(image, cv2.COLOR_BGR2LAB).astype(np.float32)
    rows, cols = image.shape[0] // cell, image.shape[1] // cell
    lab = lab[: rows * cell, : cols * cell]
    colour = lab.reshape(rows, cell, cols, cell, 3).mean(axis=(1, 3))
    texture = np.abs(cv2.Laplacian(lab[..., 0], cv2.CV_32F, ksize=3))
    texture = texture.reshape(rows, cell, cols, cell).mean(axis=(1, 3))
    return colour, texture


def wet_cells(
    image: np.ndarray,
    reference: np.ndarray | tuple[np.ndarray, np.ndarray],
    cell: int,
    *,
    colour_change: float = 12.0,
    texture_ratio: float = 0.6,
    brighter: float = 12.0,
    bluer: float = 4.0,
) -> np.ndarray:
    """Boolean [rows, cols] map of cells that look wet compared with the dry reference (an image,
    or its precomputed `cell_stats`)."""
    cur_colour, cur_texture = _cell_stats(image, cell)
    ref_colour, ref_texture = reference if isinstance(reference, tuple) else _cell_stats(reference, cell)
    changed = np.linalg.norm(cur_colour - ref_colour, axis=2) > colour_change
    smooth = cur_texture < texture_ratio * (ref_texture + 1.0)
    reflective = cur_colour[..., 0] - ref_colour[..., 0] > brighter
    tinted = ref_colour[..., 2] - cur_colour[..., 2] > bluer
    return changed & (smooth | reflective | tinted)


def zone_cells(zone: Zone, width: int, height: int, cell: int) -> np.ndarray:
    """Boolean [rows, cols] map of cells whose centre lies in the zone."""
    rows, cols = height // cell, width // cell
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [zone.pixels(width, height).reshape(-1, 1, 2)], 1)
    centres = mask[cell // 2 :: cell, cell // 2 :: cell][:rows, :cols]
    return centres > 0


def box_cells(boxes: Sequence[Box], width: int, height: int, cell: int) -> np.ndarray:
    """Boolean [rows, cols] map of cells touched by any box."""
    rows, cols = height // cell, width // cell
    out = np.zeros((rows, cols), bool)
    for x1, y1, x2, y2 in boxes:
        c1, r1 = max(0, int(x1 // cell)), max(0, int(y1 // cell))
        c2, r2 = min(cols, int(np.ceil(x2 / cell))), min(rows, int(np.ceil(y2 / cell)))
        out[r1:r2, c1:c2] = True
    return out


def cell_stats(image: np.ndarray, cell: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-cell (mean Lab colour, mean |Laplacian|) of an image: compute a reference's once."""
    return _cell_stats(image, cell)


def water_fraction(
    image: np.ndarray,
    reference: np.ndarray | tuple[np.ndarray, np.ndarray],
    zone: Zone,
    cell: int,
    exclude: Sequence[Box] = (),
) -> float:
    """Wet share (0..1) of the zone's cells not covered by `exclude` boxes."""
    height, width = image.shape[:2]
    inside = zone_cells(zone, width, height, cell) & ~box_cells(exclude, width, height, cell)
    if not inside.any():
        return 0.0
    wet = wet_cells(image, reference, cell)
    return float((wet & inside).sum() / inside.sum())


def box_fraction(boxes: Sequence[Box], zone: Zone, width: int, height: int) -> float:
    """Share of the zone covered by the union of boxes (a detector's `water` boxes)."""
    zone_mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(zone_mask, [zone.pixels(width, height).reshape(-1, 1, 2)], 1)
    total = int(zone_mask.sum())
    if total == 0:
        return 0.0
    covered = np.zeros_like(zone_mask)
    for x1, y1, x2, y2 in boxes:
        cv2.rectangle(covered, (int(x1), int(y1)), (int(x2), int(y2)), 1, -1)
    return float((covered & zone_mask).sum() / total)
