"""Training the character classifiers (`vision.plates.province`) on rendered plates, offline:
`kind="province"` for the first character, `kind="serial"` for the letters and digits after it.

Each sample is a plate drawn by `vision.plates.render` in one of the machine's CJK fonts, seen at
a slant, blurred, noisy and JPEG-compressed, then cut the way the reader cuts it: a text-line box
like the text detector's (padded, rectified, upscaled), scaled to the recogniser's 48-pixel input,
and a window around one character (the province, or a random later one) placed as the
recogniser's CTC output places it (with its measured scatter). The font the accuracy harness
renders with (`render.DEFAULT_FONT`) is left out of training and used only to validate, so the
harness measures a font the model never saw.
The network is a small CNN (torch, CPU), exported to ONNX.

Example:
    >>> result = train(Path("models/plate_province.onnx"), samples=32000, epochs=8)  # doctest: +SKIP
    >>> result.heldout_accuracy  # doctest: +SKIP
    0.97
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vision.plates.province import CLASSES, LINE_HEIGHT, SERIAL_CLASSES, WINDOW, province_window
from vision.plates.reader import ReaderTuning, order_corners, pad_quad, quad_size, rectify, upscale
from vision.plates.render import DEFAULT_FONT, PlateRenderer, character_boxes_mm, plate_size_mm

#: CJK fonts Debian installs (scripts/install-system-deps.sh), as (file, face index); those present
#: are used. Sans, serif and brush faces, so the classifier learns the character, not one font.
TRAINING_FONTS: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),  # Noto Sans CJK SC
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/arphic/ukai.ttc", 0),
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
)
COLORS = ("blue", "yellow", "green")
#: The classes each kind of classifier tells apart.
KIND_CLASSES: dict[str, tuple[str, ...]] = {"province": CLASSES, "serial": SERIAL_CLASSES}
#: The recogniser's widest input, in line heights (RapidOCR's rec_img_shape 48 x 320).
MAX_LINE_RATIO = 320 / 48


@dataclass(frozen=True)
class TrainingResult:
    """What a training run made: the ONNX file, the fonts it learnt from, its accuracy on windows
    in the held-out font (plates 80-140 px wide) and the run's size."""

    path: Path
    fonts: list[str]
    heldout_font: str
    heldout_accuracy: float
    samples: int
    epochs: int


def available_fonts(fonts: Sequence[tuple[str, int]] = TRAINING_FONTS) -> list[tuple[str, int]]:
    """The training fonts present on this machine; `ValueError` when there are none."""
    present = [(path, index) for path, index in fonts if Path(path).is_file() and Path(path) != DEFAULT_FONT]
    if not present:
        raise ValueError(
            "no CJK training font found (looked for "
            + ", ".join(p for p, _ in fonts)
            + "); scripts/install-system-deps.sh installs them"
        )
    return present


def line_image(crop: np.ndarray) -> tuple[np.ndarray, float]:
    """The crop as the recogniser's input sees it (48 high, at most 320 wide) and the x scale."""
    h, w = crop.shape[:2]
    width = min(int(LINE_HEIGHT * MAX_LINE_RATIO), math.ceil(LINE_HEIGHT * w / max(h, 1)))
    return cv2.resize(crop, (width, LINE_HEIGHT)), width / w


def sample_window(
    renderer: PlateRenderer, rng: random.Random, width: int, kind: str = "province"
) -> tuple[np.ndarray, int]:
    """One training window and its class: a rendered plate cut as the reader cuts it, the window
    around its first character (`province`) or a random later one in `SERIAL_CLASSES` (`serial`)."""
    classes = KIND_CLASSES[kind]
    sample = renderer.sample(width, color=rng.choice(COLORS))
    assert sample.text is not None and sample.corners is not None
    place = 0 if kind == "province" else rng.choice([i for i, c in enumerate(sample.text) if i > 0 and c in classes])
    plate_w, plate_h = plate_size_mm(sample.text)
    to_image = cv2.getPerspectiveTransform(
        np.asarray([[0, 0], [plate_w, 0], [plate_w, plate_h], [0, plate_h]], np.float32),
        sample.corners.astype(np.float32),
    )
    boxes = character_boxes_mm(sample.text)
    char_h = boxes[0][3] - boxes[0][1]
    margin_y = (char_h / rng.uniform(0.55, 0.85) - char_h) / 2  # the detector's box: char height / line height
    margin_x = margin_y * rng.uniform(0.3, 1.5)
    x1, y1, x2, y2 = boxes[0][0] - margin_x, boxes[0][1] - margin_y, boxes[-1][2] + margin_x, boxes[0][3] + margin_y
    corners_mm = np.asarray([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], np.float32)
    corners_mm += np.asarray([[rng.gauss(0, 0.08 * char_h), rng.gauss(0, 0.08 * char_h)] for _ in range(4)], np.float32)
    quad = order_corners(cv2.perspectiveTransform(corners_mm[None], to_image)[0])
    quad = pad_quad(quad, ReaderTuning().pads[0])
    crop = rectify(sample.image, quad)
    up = upscale(crop, ReaderTuning())
    line, scale_x = line_image(up)
    qw, qh = quad_size(quad)
    to_crop = cv2.getPerspectiveTransform(
        quad.astype(np.float32),
        np.asarray([[0, 0], [round(qw), 0], [round(qw), round(qh)], [0, round(qh)]], np.float32),
    )
    first = boxes[place]
    points = np.asarray(
        [[[(first[0] + first[2]) / 2, (first[1] + first[3]) / 2], [first[0], first[1]], [first[2], first[1]]]],
        np.float32,
    )
    in_crop = cv2.perspectiveTransform(cv2.perspectiveTransform(points, to_image), to_crop)[0]
    factor = (up.shape[1] / max(1, crop.shape[1])) * scale_x
    center, char_w = in_crop[0, 0] * factor, abs(in_crop[2, 0] - in_crop[1, 0]) * factor
    # where the recogniser's CTC output puts the character (measured on the first: sd ~0.15
    # character widths, a few far off)
    center += char_w * (rng.uniform(-0.9, 0.9) if rng.random() < 0.06 else rng.gauss(0, 0.15))
    return province_window(line, center), classes.index(sample.text[place])


def plate_width(rng: random.Random) -> int:
    """A plate width in pixels, most between 80 and 160 (where the province is hard)."""
    return int(rng.uniform(70, 170) if rng.random() < 0.75 else rng.uniform(170, 260))


def make_windows(
    count: int,
    seed: int,
    fonts: Sequence[tuple[str, int]],
    backgrounds: list[np.ndarray],
    width: Callable | None = None,
    kind: str = "province",
) -> tuple[np.ndarray, np.ndarray]:
    """`count` windows (float16, N x 1 x WINDOW x WINDOW) and their classes (of `kind`), fonts
    taken in turn."""
    rng = random.Random(seed)
    renderers = [
        PlateRenderer(seed=seed * 31 + i, backgrounds=backgrounds, font=Path(path), font_index=index)
        for i, (path, index) in enumerate(fonts)
    ]
    windows = np.empty((count, 1, WINDOW, WINDOW), np.float16)
    labels = np.empty(count, np.int64)
    for i in range(count):
        windows[i], labels[i] = sample_window(renderers[i % len(renderers)], rng, (width or plate_width)(rng), kind)
    return windows, labels


def build_network(classes: int = len(CLASSES)):  # type: ignore[no-untyped-def]
    """The classifier: four 3x3 convolutions with batch norm, pooled to one vector, one linear
    layer (about 0.2 M parameters; ~10 M multiply-adds per window)."""
    # deferred: torch loads only to train, never to read plates
    from torch import nn

    def block(cin: int, cout: int) -> list:
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

    return nn.Sequential(
        *block(1, 32),
        nn.MaxPool2d(2),
        *block(32, 64),
        nn.MaxPool2d(2),
        *block(64, 96),
        nn.MaxPool2d(2),
        *block(96, 128),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(128, classes),
    )


def accuracy(model, windows: np.ndarray, labels: np.ndarray) -> float:  # type: ignore[no-untyped-def]
    """The share of windows the model classifies right."""
    # deferred: torch loads only to train
    import torch

    model.eval()
    right = 0
    with torch.no_grad():
        for start in range(0, len(windows), 512):
            batch = torch.from_numpy(windows[start : start + 512].astype(np.float32))
            right += int((model(batch).argmax(1).numpy() == labels[start : start + 512]).sum())
    return right / max(1, len(windows))


def train(
    out: Path,
    samples: int = 32000,
    epochs: int = 8,
    seed: int = 16,
    backgrounds: list[np.ndarray] | None = None,
    progress: Callable[[str], None] = lambda _: None,
    kind: str = "province",
) -> TrainingResult:
    """Render `samples` windows of `kind` in the training fonts, train the network for `epochs`
    (Adam, a cosine schedule, batches of 128), check it on windows in the held-out font, export it
    to ONNX at `out` (dynamic batch, input `window`, output `logits`)."""
    # deferred: torch loads only to train
    import torch

    fonts = available_fonts()
    backgrounds = backgrounds or []
    torch.manual_seed(seed)
    progress(f"rendering {samples} windows in {len(fonts)} fonts")
    windows, labels = make_windows(samples, seed, fonts, backgrounds, kind=kind)
    heldout_w, heldout_y = make_windows(
        1000, seed + 1, [(str(DEFAULT_FONT), 0)], backgrounds, width=lambda r: int(r.uniform(80, 140)), kind=kind
    )
    model = build_network(len(KIND_CLASSES[kind]))
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3, weight_decay=1e-4)
    steps = epochs * math.ceil(samples / 128)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=3e-3, total_steps=steps)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.05)
    x_all, y_all = torch.from_numpy(windows.astype(np.float32)), torch.from_numpy(labels)
    generator = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(samples, generator=generator)
        total = 0.0
        for start in range(0, samples, 128):
            index = order[start : start + 128]
            optimiser.zero_grad()
            loss = loss_fn(model(x_all[index]), y_all[index])
            loss.backward()
            optimiser.step()
            schedule.step()
            total += float(loss.detach()) * len(index)
        held = accuracy(model, heldout_w, heldout_y)
        progress(f"epoch {epoch + 1}/{epochs}: loss {total / samples:.3f}, held-out font accuracy {held:.3f}")
    model.eval()
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial.onnx")
    torch.onnx.export(
        model,
        (torch.zeros(1, 1, WINDOW, WINDOW),),
        str(partial),
        input_names=["window"],
        output_names=["logits"],
        dynamic_axes={"window": {0: "n"}, "logits": {0: "n"}},
        opset_version=17,
        dynamo=False,
    )
    partial.replace(out)  # the store never holds a half-written model
    return TrainingResult(
        path=out,
        fonts=[f"{Path(p).name}#{i}" for p, i in fonts],
        heldout_font=DEFAULT_FONT.name,
        heldout_accuracy=round(accuracy(model, heldout_w, heldout_y), 4),
        samples=samples,
        epochs=epochs,
    )
