"""The analysis pool (vision/streams/pool.py): a few threads serve many cameras' latest-frame
slots; one camera is never analysed by two threads at once, its newest frame is never stranded,
its end comes once after its last frame, and one camera's failure leaves the others running."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

import numpy as np

from vision.frames import Frame
from vision.streams import LatestFrameSlot
from vision.streams.pool import AnalysisPool

IMAGE = np.zeros((4, 4, 3), dtype=np.uint8)


def _frame(camera: str, seq: int) -> Frame:
    return Frame(camera, seq, seq * 0.1, time.time(), IMAGE)


class Recorder:
    """Per camera: the frames analysed, overlapping analyses seen, ends and failures."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.analysed: dict[str, list[int]] = defaultdict(list)
        self.busy: set[str] = set()
        self.overlaps = 0
        self.closed: dict[str, list[int]] = defaultdict(list)  # frames analysed when on_closed came
        self.errors: dict[str, list[str]] = defaultdict(list)
        self.threads: set[str] = set()

    def analyse(self, frame: Frame) -> None:
        with self.lock:
            if frame.camera_id in self.busy:
                self.overlaps += 1
            self.busy.add(frame.camera_id)
            self.threads.add(threading.current_thread().name)
        time.sleep(0.0005)  # let other threads run meanwhile
        if frame.camera_id == "bad":  # fails on its first frame
            with self.lock:
                self.busy.discard(frame.camera_id)
            raise RuntimeError("analysis bug")
        with self.lock:
            self.analysed[frame.camera_id].append(frame.seq)
            self.busy.discard(frame.camera_id)


def _feed(slot: LatestFrameSlot, camera: str, frames: int) -> None:
    for seq in range(1, frames + 1):
        slot.put(_frame(camera, seq))
        if seq % 7 == 0:
            time.sleep(0.001)
    slot.close()


def _run(cameras: list[str], frames: int, threads: int) -> tuple[Recorder, AnalysisPool]:
    recorder = Recorder()
    pool = AnalysisPool(threads=threads).start()
    slots = {camera: LatestFrameSlot() for camera in cameras}
    for camera, slot in slots.items():
        pool.serve(
            slot,
            recorder.analyse,
            on_closed=lambda camera=camera: recorder.closed[camera].append(len(recorder.analysed[camera])),
            on_error=lambda exc, camera=camera: recorder.errors[camera].append(str(exc)),
        )
    feeders = [threading.Thread(target=_feed, args=(slots[c], c, frames)) for c in cameras]
    for feeder in feeders:
        feeder.start()
    for feeder in feeders:
        feeder.join()
    assert pool.wait_done(timeout=30)
    pool.close()
    return recorder, pool


def test_many_cameras_few_threads_in_order_and_none_stranded() -> None:
    cameras = [f"cam{i}" for i in range(24)]
    recorder, _ = _run(cameras, frames=200, threads=3)
    assert recorder.overlaps == 0
    assert len(recorder.threads) <= 3
    for camera in cameras:
        seqs = recorder.analysed[camera]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)  # in frame order, each once
        assert seqs[-1] == 200  # the newest frame is always analysed, even when put mid-analysis
        assert recorder.closed[camera] == [len(seqs)]  # the end came once, after the last frame


def test_a_failing_camera_stops_alone() -> None:
    recorder, pool = _run(["bad", "good1", "good2"], frames=50, threads=2)
    assert recorder.errors["bad"] == ["analysis bug"]
    assert recorder.closed["bad"] == []  # a failed camera does not end normally
    assert recorder.analysed["bad"] == []  # and is never analysed again
    for camera in ("good1", "good2"):
        assert recorder.analysed[camera][-1] == 50 and recorder.closed[camera] == [len(recorder.analysed[camera])]
    assert all(served.done for served in pool.served)


def test_a_slot_with_a_frame_before_serving_is_served() -> None:
    recorder = Recorder()
    slot = LatestFrameSlot()
    slot.put(_frame("early", 1))
    slot.close()
    pool = AnalysisPool(threads=1).start()
    pool.serve(slot, recorder.analyse, on_closed=lambda: recorder.closed["early"].append(1))
    assert pool.wait_done(timeout=10)
    pool.close()
    assert recorder.analysed["early"] == [1] and recorder.closed["early"] == [1]
