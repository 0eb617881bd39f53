"""Continuous recording on a real reader: contiguous segments (stream copy, same codec and size as
the source), a kill -9 of a recording process during a segment, then recovery (earlier segments
intact, the broken tail repaired), and the `record:` config accepting `continuous: true`."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from citywatch.config import CameraConfig
from tests.support import REPO, demo_config_dict, write_config
from tests.test_clips import GOP, synthetic
from vision.record.recovery import recover_parts
from vision.record.segments import SegmentFile, SegmentRecorder
from vision.streams import StreamReader

pytestmark = pytest.mark.timeout(180)


def ffprobe(path: Path) -> dict:
    """ffprobe's stream and format of a file, and its packet count (raises when it cannot read it)."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_packets", "-show_streams", "-show_format", "-of", "json", str(path)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return json.loads(out.stdout)


def record(path: Path, root: Path, segment_s: float) -> list[SegmentFile]:
    done: list[SegmentFile] = []
    recorder = SegmentRecorder("cam", root, segment_s=segment_s, on_segment=done.append)
    reader = StreamReader(CameraConfig(id="cam", url=str(path), analysis_fps=1), speed="fast", packet_tap=recorder.tap)
    for _ in reader.frames():
        pass
    recorder.close()
    return done


def test_segments_are_contiguous_stream_copies(tmp_path: Path) -> None:
    source = synthetic(tmp_path, seconds=25)
    segments = record(source, tmp_path / "rec", segment_s=4.0)
    assert len(segments) == 7  # cuts at the keyframes at 4, 8, ... 24 s
    assert segments[0].start_s == pytest.approx(0.0, abs=0.05)
    assert segments[-1].end_s == pytest.approx(25.0, abs=0.15)
    gop_s = GOP / 10
    for before, after in itertools.pairwise(segments):
        assert after.start_s == before.end_s  # N ends where N+1 starts: no gap at all
        assert after.start_s - before.start_s <= 4.0 + gop_s
    source_info = ffprobe(source)["streams"][0]
    packets = 0
    for segment in segments:
        path = tmp_path / "rec" / segment.name
        assert path.is_file() and not path.with_name(path.name + ".part").exists()
        info = ffprobe(path)
        stream = info["streams"][0]
        assert (stream["codec_name"], stream["width"], stream["height"]) == (
            source_info["codec_name"],
            source_info["width"],
            source_info["height"],
        )
        assert int(stream["nb_read_packets"]) == segment.packets
        assert float(info["format"]["duration"]) == pytest.approx(segment.end_s - segment.start_s, abs=0.15)
        packets += segment.packets
    assert packets == int(source_info["nb_read_packets"])  # every packet of the source, once


CHILD = """
import sys, time
from pathlib import Path
from citywatch.config import CameraConfig
from vision.record.segments import SegmentRecorder
from vision.streams import StreamReader
recorder = SegmentRecorder("cam", Path(sys.argv[2]), segment_s=3.0,
                           on_segment=lambda s: print("segment", s.name, flush=True))
reader = StreamReader(CameraConfig(id="cam", url=sys.argv[1], analysis_fps=1), speed="realtime",
                      packet_tap=recorder.tap)
for _ in reader.frames():
    pass
"""


@pytest.mark.footage
def test_kill_9_during_a_segment_loses_no_earlier_segment(tmp_path: Path) -> None:
    source = synthetic(tmp_path, seconds=30)
    root = tmp_path / "rec"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(source), str(root)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert child.stdout is not None
    finished = []
    deadline = time.monotonic() + 60
    while len(finished) < 2 and time.monotonic() < deadline:
        line = child.stdout.readline()
        if line.startswith("segment "):
            finished.append(line.split()[1])
    time.sleep(1.6)  # inside the third segment, a fragment or so written
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    assert len(finished) == 2
    parts = list(root.rglob("*.mp4.part"))
    assert len(parts) == 1  # the segment being written when the process died
    before = {name: (root / name).read_bytes() for name in finished}

    recovered = recover_parts(root)
    assert [r.part for r in recovered] == parts
    assert not list(root.rglob("*.mp4.part"))
    for name, data in before.items():  # earlier segments untouched
        assert (root / name).read_bytes() == data
        assert int(ffprobe(root / name)["streams"][0]["nb_read_packets"]) > 0
    repaired = recovered[0]
    assert repaired.path is not None  # the readable fragments kept, the broken tail dropped
    if repaired.path is not None:
        info = ffprobe(repaired.path)
        assert int(info["streams"][0]["nb_read_packets"]) == repaired.packets > 0
        assert 0 < float(info["format"]["duration"]) < 3.5
    assert recover_parts(root) == []  # nothing left to do the second time


def test_continuous_is_accepted_in_the_config() -> None:
    camera = CameraConfig.model_validate({"id": "c", "url": "x.mp4", "record": {"continuous": True, "segment_s": 10}})
    assert camera.record.continuous and camera.record.segment_s == 10


@pytest.mark.e2e
def test_citywatch_replay_records_continuous_segments(tmp_path: Path, vtest_path: Path, model_dir: Path) -> None:
    data = demo_config_dict(tmp_path)
    data["cameras"][0]["record"] = {"clips": False, "continuous": True, "segment_s": 10}
    config = write_config(tmp_path, data)
    result = subprocess.run(
        [sys.executable, "-m", "citywatch", "replay", "--config", str(config), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    root = tmp_path / "recordings"
    segments = sorted(root.rglob("*.mp4"))
    assert not list(root.rglob("*.part"))
    source = ffprobe(vtest_path)
    (original,) = [s for s in source["streams"] if s["codec_type"] == "video"]
    assert len(segments) >= 3  # a keyframe every 25 s: each segment runs from one to the next
    packets, duration = 0, 0.0
    for path in segments:
        info = ffprobe(path)
        (stream,) = info["streams"]
        assert (stream["codec_name"], stream["width"], stream["height"]) == ("msmpeg4v3", 768, 576)
        packets += int(stream["nb_read_packets"])
        duration += float(info["format"]["duration"])
    assert packets == int(original["nb_read_packets"])  # the whole stream, copied once
    assert duration == pytest.approx(float(source["format"]["duration"]), abs=0.5)


class StalledDisk(SegmentRecorder):
    """A recorder whose writer is stuck (a disk that stopped answering) until `resume` is set."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.resume = threading.Event()
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def _handle(self, current, item):  # type: ignore[no-untyped-def]
        self.resume.wait(30)
        return super()._handle(current, item)


def test_a_full_queue_drops_to_the_next_keyframe_and_never_blocks_the_reader(tmp_path: Path) -> None:
    source = synthetic(tmp_path, seconds=12)
    done: list[SegmentFile] = []
    recorder = StalledDisk("cam", tmp_path / "rec", segment_s=100.0, on_segment=done.append, max_queue=15)
    reader = StreamReader(
        CameraConfig(id="cam", url=str(source), analysis_fps=1), speed="fast", packet_tap=recorder.tap
    )
    started = time.monotonic()
    frames = sum(1 for _ in reader.frames())
    assert frames >= 11 and time.monotonic() - started < 10  # the reader never waited for the stuck writer
    recorder.resume.set()
    recorder.close()
    assert recorder.dropped_packets > 0
    kept = sum(segment.packets for segment in done)
    assert kept + recorder.dropped_packets == 120  # every packet written or counted as dropped
    assert kept >= 10  # the queue's worth before the stall filled it (a whole GOP from a keyframe)
    for segment in done:  # each piece starts at a keyframe and is readable
        info = ffprobe(tmp_path / "rec" / segment.name)
        assert int(info["streams"][0]["nb_read_packets"]) == segment.packets
