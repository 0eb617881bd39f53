"""Stall judgement under CPU pressure (vision/streams/stall.py, the reader's use of it): a read
timeout is a camera stall only when the process itself was not the one running late."""

from __future__ import annotations

import errno

import av
import pytest

from citywatch.config import CameraConfig
from vision.streams import StreamReader, StreamState
from vision.streams.reader import MAX_LATE_READS
from vision.streams.stall import LatenessMonitor, is_stall

TIMEOUT = av.error.TimeoutError(errno.ETIMEDOUT, "Connection timed out", "rtsp://127.0.0.1:1/cam")


@pytest.mark.parametrize(
    ("gap_s", "lateness_s", "stall"),
    [
        (4.2, 0.0, True),  # nothing for 4 s, the process on time: the camera stalled
        (4.2, 0.3, True),  # a little lateness does not excuse a real gap
        (4.2, 3.0, False),  # the process was 3 s late: most of the gap is its own
        (2.5, 0.6, False),  # gap less lateness under the timeout
        (2.0, 0.0, True),  # exactly the timeout
        (5.0, -1.0, True),  # negative lateness (clock noise) never lengthens a gap
    ],
)
def test_is_stall(gap_s: float, lateness_s: float, stall: bool) -> None:
    assert is_stall(gap_s, 2.0, lateness_s) is stall


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_lateness_sums_the_ticks_after_since() -> None:
    clock = FakeClock()
    monitor = LatenessMonitor(tick_s=0.1, clock=clock)
    monitor.record(95.0, 2.0)  # before the window asked about
    monitor.record(98.5, 0.4)
    monitor.record(99.0, 1.1)
    monitor.record(99.5, -0.2)  # early wake-ups count as zero
    assert monitor.lateness(98.0) == pytest.approx(1.5)
    assert monitor.lateness(90.0) == pytest.approx(3.5)
    assert monitor.lateness(99.9) == 0.0


def test_lateness_keeps_a_bounded_history() -> None:
    clock = FakeClock()
    monitor = LatenessMonitor(tick_s=0.1, keep_s=1.0, clock=clock)  # ten ticks
    for i in range(50):
        monitor.record(float(i), 1.0)
    assert monitor.lateness(-1.0) == pytest.approx(10.0)


def _reader(lateness: LatenessMonitor | None) -> StreamReader:
    camera = CameraConfig(id="late", url="rtsp://127.0.0.1:1/cam", analysis_fps=1)
    return StreamReader(camera, read_timeout_s=2.0, lateness=lateness)


def test_a_late_process_reads_on_instead_of_calling_a_stall() -> None:
    clock = FakeClock()
    monitor = LatenessMonitor(tick_s=0.1, clock=clock)
    reader = _reader(monitor)
    reader._last_packet_s = clock.now - 4.3  # the read timed out 4.3 s after the last packet ...
    monitor.record(clock.now - 2.0, 3.0)  # ... while this process ran 3 s behind
    assert reader._late_read(TIMEOUT) is True
    assert reader.health.late_reads == 1
    assert reader.health.state == "connecting"  # not stalled, no reconnect


def test_a_timeout_on_time_is_a_stall() -> None:
    clock = FakeClock()
    monitor = LatenessMonitor(tick_s=0.1, clock=clock)
    reader = _reader(monitor)
    reader._last_packet_s = clock.now - 4.3
    monitor.record(clock.now - 2.0, 0.05)
    assert reader._late_read(TIMEOUT) is False
    assert reader.health.late_reads == 0


def test_lateness_excuses_only_so_many_timeouts_in_a_row() -> None:
    clock = FakeClock()
    monitor = LatenessMonitor(tick_s=0.1, clock=clock)
    reader = _reader(monitor)
    monitor.record(clock.now - 1.0, 60.0)  # the process is badly starved
    verdicts = []
    for _ in range(MAX_LATE_READS + 2):
        reader._last_packet_s = clock.now - 4.0
        verdicts.append(reader._late_read(TIMEOUT))
    assert verdicts == [True] * MAX_LATE_READS + [False, False]


def test_other_errors_are_never_excused() -> None:
    monitor = LatenessMonitor(tick_s=0.1, clock=FakeClock())
    monitor.record(99.0, 60.0)
    refused = av.error.ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused", "rtsp://127.0.0.1:1/cam")
    assert _reader(monitor)._late_read(refused) is False


def test_without_a_monitor_every_timeout_is_a_stall() -> None:
    reader = _reader(None)
    reader._last_packet_s -= 1.0
    assert reader._late_read(TIMEOUT) is False


def test_the_monitor_shows_a_stall_without_waiting_for_ffmpeg() -> None:
    clock = FakeClock()
    monitor = LatenessMonitor(tick_s=0.1, clock=clock)
    reader = _reader(monitor)
    reader.health.set_state(StreamState.ONLINE)
    reader._last_packet_s = clock.now - 1.5
    reader.check_stall()
    assert reader.health.state == "online"  # under the read timeout
    reader._last_packet_s = clock.now - 2.5
    reader.check_stall()
    assert reader.health.state == "stalled"
    assert "no video for 2s+" in (reader.health.last_error or "")


def test_the_monitor_does_not_call_its_own_lateness_a_stall() -> None:
    clock = FakeClock()
    monitor = LatenessMonitor(tick_s=0.1, clock=clock)
    reader = _reader(monitor)
    reader.health.set_state(StreamState.ONLINE)
    reader._last_packet_s = clock.now - 3.0
    monitor.record(clock.now - 1.0, 2.0)  # the process ran 2 s behind meanwhile
    reader.check_stall()
    assert reader.health.state == "online"
