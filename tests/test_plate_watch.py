"""When a staying vehicle's plate is read (vision.plates.watch.PlateWatch): every `every_s` stream
seconds for the first half of the budget, then at doubling intervals, never beyond `max_reads`;
the schedule follows stream time, so a replay at any speed reads the same frames. The reader
here is a scripted `PlateReader` (the protocol's contract: results, most confident first); the
real one is exercised in test_plate_pipeline.py."""

from __future__ import annotations

import numpy as np

from vision.plates.reader import PlateResult
from vision.plates.watch import PlateWatch


class ScriptedReader:
    """Reads `text` from frames whose stream second is at least `from_s` (the plate is hidden
    before); counts the readings it was asked for."""

    def __init__(self, text: str, from_s: float):
        self.text, self.from_s, self.now_s, self.asked = text, from_s, 0.0, 0

    def read(self, image_bgr: np.ndarray) -> list[PlateResult]:
        self.asked += 1
        if self.now_s < self.from_s:
            return []
        return [PlateResult(self.text, "blue", 0.95, (10, 10, 50, 22))]


def schedule(watch: PlateWatch, reader: ScriptedReader, seconds: float, step: float) -> list[float]:
    """The stream seconds at which the stay was read, for frames every `step` seconds."""
    image = np.zeros((120, 160, 3), np.uint8)
    read_at = []
    for i in range(int(seconds / step)):
        reader.now_s = i * step
        if watch.observe("stay", image, (20.0, 20.0, 140.0, 100.0), reader.now_s):
            read_at.append(reader.now_s)
    return read_at


def test_readings_come_every_few_seconds_then_at_doubling_intervals() -> None:
    reader = ScriptedReader("豫D12345", from_s=1e9)
    watch = PlateWatch(reader, every_s=2.0, max_reads=10, min_agree=2)
    assert schedule(watch, reader, 200, 1.0) == [0, 2, 4, 6, 8, 10, 14, 22, 38, 70]
    assert reader.asked == 10 and watch.plate("stay") is None


def test_the_schedule_follows_stream_time_not_the_frame_rate() -> None:
    slow, fast = ScriptedReader("豫D12345", 1e9), ScriptedReader("豫D12345", 1e9)
    at_1fps = schedule(PlateWatch(slow, every_s=2.0, max_reads=6), slow, 60, 1.0)
    at_4fps = schedule(PlateWatch(fast, every_s=2.0, max_reads=6), fast, 60, 0.25)
    assert at_1fps == at_4fps == [0, 2, 4, 6, 10, 18]


def test_a_plate_revealed_late_is_still_agreed_within_the_budget() -> None:
    reader = ScriptedReader("豫D12345", from_s=25.0)
    watch = PlateWatch(reader, every_s=2.0, max_reads=10, min_agree=2)
    schedule(watch, reader, 80, 1.0)
    assert watch.plate("stay") == {"text": "豫D12345", "color": "blue", "confidence": 0.95}
    watch.forget("stay")
    assert watch.plate("stay") is None
