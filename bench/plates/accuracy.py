"""Accuracy of the plate reader (issue #16) on rendered plates and on plate-less images.

    python -m bench.plates.accuracy [--per-cell 40] [--widths 60,100,140,200] [--colors blue,yellow,green]

Plates drawn by `vision.plates.render.PlateRenderer` on crops of the shared footage, at each width
and colour; plate-less images are crops of the footage and of dog.jpg with nothing composited. Per
cell: exact-match % (the most confident reading is the truth), false-read % (it is another text),
colour % (of the exact reads, those whose colour is right too); plate-less images with any reading %; the median
wall and CPU milliseconds per `read`. Prints a markdown table (docs/benchmarks.md, "Plates").
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from citywatch.commands.plates import open_reader
from vision.plates.reader import PlateReader, PlateResult, ReaderTuning
from vision.plates.render import PlateRenderer, PlateSample, footage_frames

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("CITYWATCH_SHARED_DIR", REPO.parent / "shared"))


def plate_less(count: int, seed: int, frames: list[np.ndarray], dog: np.ndarray | None) -> list[np.ndarray]:
    """`count` images without a plate: the whole dog.jpg, crops of it, and crops of the footage, in
    the sizes plates are rendered in and larger."""
    renderer = PlateRenderer(seed=seed, backgrounds=[*frames, *([dog] if dog is not None else [])])
    images = [dog] if dog is not None else []
    sizes = [(172, 116), (260, 168), (348, 216), (480, 296), (640, 400)]
    while len(images) < count:
        width, height = sizes[len(images) % len(sizes)]
        images.append(renderer.blank(width, height).image)
    return images[:count]


@dataclass
class Cell:
    """Counts of one colour and width (or of the plate-less images)."""

    total: int = 0
    exact: int = 0
    wrong: int = 0
    color_right: int = 0
    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)

    def pct(self, n: int, of: int | None = None) -> str:
        """`n` as a whole percentage of `of` (default: the cell's total); "-" of nothing."""
        whole = self.total if of is None else of
        return f"{100 * n / whole:.0f} %" if whole else "-"

    def row(self) -> str:
        """'exact % / false % / colour %' (colour: of the exact reads)."""
        return f"{self.pct(self.exact)} / {self.pct(self.wrong)} / {self.pct(self.color_right, self.exact)}"


def timed_read(reader: PlateReader, image: np.ndarray, cell: Cell) -> list[PlateResult]:
    """`reader.read(image)`, its wall and CPU milliseconds added to the cell."""
    wall, cpu = time.perf_counter(), time.process_time()
    results = reader.read(image)
    cell.wall_ms.append(1000 * (time.perf_counter() - wall))
    cell.cpu_ms.append(1000 * (time.process_time() - cpu))
    return results


def score_plate(sample: PlateSample, results: list[PlateResult], cell: Cell) -> None:
    """Count one rendered plate: exact, wrong (another text) or missed, and its colour."""
    cell.total += 1
    if not results:
        return
    best = results[0]
    if best.text == sample.text:
        cell.exact += 1
        cell.color_right += best.color == sample.color
    else:
        cell.wrong += 1


def run(
    reader: PlateReader,
    per_cell: int,
    widths: list[int],
    colors: list[str],
    seed: int = 16,
    progress: Callable[[str], None] = lambda _: None,
) -> tuple[dict[tuple[str, int], Cell], Cell]:
    """The plate cells (colour, width) and the plate-less cell."""
    frames = footage_frames()
    dog = cv2.imread(str(SHARED / "media" / "dog.jpg"))
    cells: dict[tuple[str, int], Cell] = {}
    for color in colors:
        for width in widths:
            renderer = PlateRenderer(seed=seed * 1000 + width + 7 * colors.index(color), backgrounds=frames)
            cell = cells.setdefault((color, width), Cell())
            for _ in range(per_cell):
                sample = renderer.sample(width, color=color)
                score_plate(sample, timed_read(reader, sample.image, cell), cell)
            progress(f"{color} {width}px: {cell.exact}/{cell.total} exact, {cell.wrong} wrong")
    blank = Cell()
    for image in plate_less(per_cell * len(colors), seed, frames, dog):
        blank.total += 1
        blank.wrong += bool(timed_read(reader, image, blank))
    progress(f"plate-less: {blank.wrong}/{blank.total} with a reading")
    return cells, blank


def table(cells: dict[tuple[str, int], Cell], blank: Cell, widths: list[int], colors: list[str]) -> str:
    """The markdown table of the results."""
    header = "| colour | " + " | ".join(f"{w} px exact / false / colour" for w in widths) + " |"
    lines = [header, "|---|" + "---|" * len(widths)]
    for color in colors:
        row = [cells[color, w].row() for w in widths]
        lines.append(f"| {color} | " + " | ".join(row) + " |")
    totals = [sum(cells[c, w].exact for c in colors) / max(1, sum(cells[c, w].total for c in colors)) for w in widths]
    lines.append("| all | " + " | ".join(f"**{100 * t:.0f} %** exact" for t in totals) + " |")
    plate_ms = [ms for cell in cells.values() for ms in cell.wall_ms]
    plate_cpu = [ms for cell in cells.values() for ms in cell.cpu_ms]
    lines += [
        "",
        f"Plate-less images with any reading: **{blank.pct(blank.wrong)}** ({blank.wrong} of {blank.total}).",
        f"Median per `read`: plates {statistics.median(plate_ms):.0f} ms wall / "
        f"{statistics.median(plate_cpu):.0f} ms CPU; plate-less {statistics.median(blank.wall_ms):.0f} ms wall / "
        f"{statistics.median(blank.cpu_ms):.0f} ms CPU.",
    ]
    return "\n".join(lines)


def tuning(overrides: str) -> ReaderTuning:
    """The reader's default tuning with `name=value,...` overrides (numbers)."""
    fields: dict[str, Any] = {}
    for item in filter(None, overrides.split(",")):
        name, _, value = item.partition("=")
        numbers = [float(v) for v in value.split("/")]
        fields[name.strip()] = tuple(numbers) if "/" in value or name.strip() in ("pads", "aspect") else numbers[0]
    return replace(ReaderTuning(), **fields)


def main(argv: list[str] | None = None) -> int:
    """Run the harness and print the table."""
    parser = argparse.ArgumentParser(prog="python -m bench.plates.accuracy")
    parser.add_argument("--per-cell", type=int, default=40, help="plates per colour and width")
    parser.add_argument("--widths", default="60,100,140,200", help="plate widths in pixels")
    parser.add_argument("--colors", default="blue,yellow,green", help="plate colours")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime threads per model")
    parser.add_argument("--model-dir", action="append", default=None, help="model store directory (repeatable)")
    parser.add_argument("--tune", default="", help="ReaderTuning overrides, e.g. 'pads=0.15/0.3,min_confidence=0.8'")
    args = parser.parse_args(argv)
    widths = [int(w) for w in args.widths.split(",")]
    colors = args.colors.split(",")
    reader = open_reader(args.model_dir, threads=args.threads, tuning=tuning(args.tune))
    missing = [kind for kind in ("province", "serial") if getattr(reader.recognizer, kind, None) is None]
    if missing:
        print(
            f"note: no {' or '.join(missing)} classifier in the model store: this measures the reader without "
            "it (100 px plates: about 77 % exact instead of 96 %); `make plates-model` trains them offline "
            "(docs/plates.md), then pass --model-dir models if it is not searched",
            flush=True,
        )
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    cells, blank = run(reader, args.per_cell, widths, colors, args.seed, progress=lambda s: print(s, flush=True))
    print(f"\n{started}, {platform.machine()}, {os.cpu_count()} CPUs, --per-cell {args.per_cell}, seed {args.seed}\n")
    print(table(cells, blank, widths, colors))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
