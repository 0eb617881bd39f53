"""The best plate reading over a vehicle's stay: readings that follow the grammar are grouped by
text, the text with the highest summed confidence wins, and only when at least `min_agree` frames
read it (one frame's reading is never enough to name a vehicle to enforcement)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from vision.plates.grammar import parse_plate


@dataclass(frozen=True, slots=True)
class PlateReading:
    """One frame's reading: text as read, colour, the reader's confidence (0-1) and the plate's box
    in the frame (x1, y1, x2, y2), when known."""

    text: str
    color: str
    confidence: float
    box: tuple[float, float, float, float] | None = None


def vote_plate(readings: Iterable[PlateReading], *, min_agree: int = 2) -> PlateReading | None:
    """The stay's plate: the grammatical text with the highest summed confidence, read on at least
    `min_agree` frames, with the colour most of those frames saw (ties: the most confident frame's),
    the mean confidence of the agreeing frames and the box of the most confident one; None when no
    text has enough agreeing frames."""
    groups: dict[str, list[PlateReading]] = defaultdict(list)
    for reading in readings:
        parsed = parse_plate(reading.text, reading.color)
        if parsed is not None:
            groups[parsed.text].append(reading)
    agreed = {text: group for text, group in groups.items() if len(group) >= min_agree}
    if not agreed:
        return None
    text, group = max(agreed.items(), key=lambda item: (sum(r.confidence for r in item[1]), len(item[1])))
    best = max(group, key=lambda r: r.confidence)
    colors = Counter(r.color for r in group).most_common()
    top = [color for color, count in colors if count == colors[0][1]]
    color = best.color if best.color in top else top[0]
    confidence = sum(r.confidence for r in group) / len(group)
    return PlateReading(text, color, round(confidence, 4), best.box)
