"""The plate renderer of the accuracy harness (vision/plates/render.py): grammatical truth, the
plate where its box says, deterministic for a seed, plate-less crops without one."""

from __future__ import annotations

import numpy as np
import pytest

from vision.plates import parse_plate
from vision.plates.render import DEFAULT_FONT, PlateRenderer, draw_plate

pytestmark = pytest.mark.skipif(not DEFAULT_FONT.is_file(), reason="fonts-wqy-microhei not installed")


@pytest.mark.parametrize("color", ["blue", "yellow", "green", "white", "black"])
def test_samples_carry_grammatical_truth_inside_their_box(color: str) -> None:
    renderer = PlateRenderer(seed=11)
    for width in (100, 160):
        sample = renderer.sample(width, color=color)
        assert sample.text is not None and parse_plate(sample.text, color) is not None
        x1, y1, x2, y2 = sample.box or (0, 0, 0, 0)
        assert 0.85 * width <= x2 - x1 <= 1.4 * width
        inside = sample.image[y1:y2, x1:x2].reshape(-1, 3).std(axis=0).mean()
        outside = sample.image[: max(1, y1 - 5), :].reshape(-1, 3).std(axis=0).mean()
        assert inside > outside + 10  # the plate's characters, on a flat grey background


def test_same_seed_same_samples() -> None:
    a, b = PlateRenderer(seed=5).sample(120), PlateRenderer(seed=5).sample(120)
    assert (a.text, a.color, a.box) == (b.text, b.color, b.box) and np.array_equal(a.image, b.image)
    assert PlateRenderer(seed=6).sample(120).text != a.text


def test_flat_plate_geometry_and_blank_crops() -> None:
    assert draw_plate("豫D12345", "blue", px_per_mm=0.5).shape == (70, 220, 3)
    assert draw_plate("沪AD12345", "green", px_per_mm=0.5).shape == (70, 240, 3)
    blank = PlateRenderer(seed=1).blank(200, 100)
    assert blank.text is None and blank.box is None and blank.image.shape == (100, 200, 3)
