"""Stream reader units and file replay: stream clock, sampler, slot, decode strategy, replay identity."""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from citywatch.config import CameraConfig
from vision.frames import Frame
from vision.streams import (
    DECODE_ALL,
    DECODE_KEYFRAMES,
    LatestFrameSlot,
    Sampler,
    StreamClock,
    StreamHealth,
    StreamReader,
    StreamState,
    choose_decode,
    health_snapshot,
)


def _camera(url: str, **kw: object) -> CameraConfig:
    return CameraConfig(id=kw.pop("id", "cam"), url=url, **kw)


def _signature(reader: StreamReader) -> list[tuple[int, float, str]]:
    out = []
    for frame in reader.frames():
        out.append((frame.seq, round(frame.stream_s, 6), hashlib.sha1(frame.image.tobytes()).hexdigest()))
    return out


def test_replay_fast_and_10x_give_identical_frames(vtest_path: Path) -> None:
    camera = _camera(str(vtest_path), analysis_fps=2)
    fast_reader = StreamReader(camera, speed="fast", loop=False)
    fast = _signature(fast_reader)
    started = time.monotonic()
    slow = _signature(StreamReader(camera, speed=10.0, loop=False))
    took = time.monotonic() - started
    assert len(fast) >= 150  # 79.5 s at 2 fps
    assert fast == slow
    assert 7.0 <= took <= 20.0  # 79.5 s of video at 10x is paced, not fast
    assert fast_reader.health.state == StreamState.ENDED
    times = [t for _, t, _ in fast]
    assert all(b > a for a, b in itertools.pairwise(times))
    assert all(abs(t * 2 - round(t * 2)) < 0.06 for t in times)  # on the 0.5 s grid (10 fps source)


def test_replay_loop_keeps_stream_time_monotonic(vtest_path: Path) -> None:
    reader = StreamReader(_camera(str(vtest_path), analysis_fps=0.5), speed="fast", loop=True)
    times = []
    for frame in reader.frames():
        times.append(frame.stream_s)
        if len(times) >= 60:  # 40 per pass: crosses one loop
            reader.stop()
    assert all(b > a for a, b in itertools.pairwise(times))
    steps = [b - a for a, b in itertools.pairwise(times)]
    assert max(steps) < 2.5  # no jump at the loop point


def test_keyframes_strategy_decodes_only_keyframes(vtest_path: Path) -> None:
    # vtest.avi has a keyframe every 25 s: auto picks 'all' at 2 fps, 'keyframes' at 0.04 fps.
    reader = StreamReader(_camera(str(vtest_path), analysis_fps=0.04), speed="fast", loop=False)
    frames = list(reader.frames())
    assert reader.health.decode == DECODE_KEYFRAMES
    assert [round(f.stream_s, 3) for f in frames] == [0.0, 25.0, 50.0, 75.0]
    # auto decodes all frames until it has seen two keyframes, then keyframes only
    assert reader.health.frames_decoded == 250 + 3
    assert reader.health.frames_in >= 790
    reader_all = StreamReader(_camera(str(vtest_path), analysis_fps=2), speed="fast", loop=False)
    list(reader_all.frames())
    assert reader_all.health.decode == DECODE_ALL
    assert reader_all.health.frames_decoded >= 790


def test_forced_keyframes_matches_all_on_keyframes(vtest_path: Path) -> None:
    key_reader = StreamReader(_camera(str(vtest_path), analysis_fps=0.04, decode="keyframes"), speed="fast")
    key = list(key_reader.frames())
    every_reader = StreamReader(_camera(str(vtest_path), analysis_fps=0.04, decode="all"), speed="fast")
    every = list(every_reader.frames())
    assert key_reader.health.frames_decoded == 4
    assert [f.stream_s for f in key] == [f.stream_s for f in every]
    assert all((a.image == b.image).all() for a, b in zip(key, every, strict=True))


def test_corrupt_and_missing_files_report_error(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64)
    cases = ((str(garbage), "not a readable video"), (str(tmp_path / "none.mp4"), "file not found"))
    for url, words in cases:
        reader = StreamReader(_camera(url), speed="fast")
        assert list(reader.frames()) == []
        assert reader.health.state == StreamState.ERROR
        assert words in (reader.health.last_error or "")


def test_stream_clock_handles_resets_jumps_wraps_and_missing_pts() -> None:
    clock = StreamClock()
    clock.frame_interval = 0.1
    out = [clock.stream_time(p) for p in (None, 100.1, 100.2, 100.3)]
    assert out == pytest.approx([0.0, 0.1, 0.2, 0.3])
    out.append(clock.stream_time(0.0))  # pts reset / wraparound within a session
    out.append(clock.stream_time(0.1))
    out.append(clock.stream_time(5000.0))  # camera clock jump forward
    out.append(clock.stream_time(5000.1))
    out.append(clock.stream_time(5000.05))  # small reorder: clamped, never backwards
    clock.new_session()  # reconnect: the new session's pts start anywhere
    out.append(clock.stream_time(7.0))
    out.append(clock.stream_time(7.1))
    steps = [b - a for a, b in itertools.pairwise(out)]
    assert all(0 < s <= 0.1 + 1e-9 for s in steps), steps
    assert clock.rebases == 2


def test_sampler_fixed_grid() -> None:
    sampler = Sampler(2.0)
    picked = [t / 10 for t in range(0, 30) if sampler.take(t / 10)]
    assert picked == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]


def test_latest_frame_slot_drops_stale_and_counts() -> None:
    health = StreamHealth()
    slot = LatestFrameSlot(health)
    image = np.zeros((2, 2, 3), np.uint8)
    for i in range(5):
        slot.put(Frame("c", i, float(i), 0.0, image))
    got = slot.get(timeout=0.1)
    assert got is not None and got.seq == 4
    assert slot.dropped == 4 and health.frames_dropped == 4
    assert slot.get(timeout=0.05) is None
    threading.Timer(0.05, slot.close).start()
    assert slot.get(timeout=2) is None and slot.closed


def test_choose_decode() -> None:
    assert choose_decode("auto", 1.0, 1.0) == "keyframes"
    assert choose_decode("auto", 2.0, 1.0) == "all"
    assert choose_decode("auto", 0.5, 2.0) == "keyframes"
    assert choose_decode("auto", 0.5, None) == "all"
    assert choose_decode("keyframes", 5.0, 1.0) == "keyframes"
    assert choose_decode("all", 0.1, 1.0) == "all"


def test_health_snapshot_has_what_operators_need() -> None:
    health = StreamHealth()
    health.set_state("online")
    health.frames_in, health.frames_sampled = 100, 20
    health.last_frame_wall_s = time.time()
    snap = health_snapshot(health)
    for key in ("state", "last_frame_at", "input_fps", "analysed_fps", "frames_dropped", "reconnects", "last_error"):
        assert key in snap
    assert snap["state"] == "online" and snap["input_fps"] > 0 and snap["analysed_fps"] > 0
