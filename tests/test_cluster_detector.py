"""Detector actors (`cluster.detector_placement: actors`): groups letterbox frames into uint8
tensors, a `DetectorService` runs the model on their batches, the groups decode. The same detections
as the detector in process; batches from two camera groups served by one CPU actor (`num_gpus: 0`)
through the Ray engine, up to the parked van's event."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import select

from citywatch.cluster.detector_actor import DetectorService, remote_detector
from citywatch.cluster.ray_engine import RayEngine
from citywatch.config import CitywatchConfig
from citywatch.detectors import load_detector
from citywatch.domain.cameras import register_cameras
from citywatch.domain.db import open_database
from citywatch.domain.tables import Event
from citywatch.modes import ModeHolder
from citywatch.sink import EventSink
from tests.support import demo_config_dict
from vision.detect import BatchingDetector
from vision.detect.backends.yolox_onnx import letterbox_uint8


def _frames(path: Path, count: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < count:
        ok, image = capture.read()
        assert ok
        frames.append(image)
        for _ in range(10):
            capture.grab()
    capture.release()
    return frames


def test_a_detector_service_gives_the_detections_of_the_local_detector(
    tmp_path: Path, vtest_path: Path, model_dir: Path
) -> None:
    config = CitywatchConfig.model_validate(demo_config_dict(tmp_path))
    local = load_detector(config.detector)
    service = DetectorService(config.detector)
    sent: list[tuple[int, ...]] = []

    def infer(batch: np.ndarray) -> list[np.ndarray]:
        sent.append((batch.dtype.itemsize, *batch.shape))
        return service.infer(batch)

    remote = BatchingDetector(remote_detector(service.geometry(), infer), max_batch=4, max_wait_s=0.05)
    images = _frames(vtest_path, 6)
    results: dict[int, object] = {}

    def group(offset: int) -> None:  # two groups' cameras submitting at once
        for i in range(offset, len(images), 2):
            results[i] = remote.detect(f"cam{offset}", images[i])

    threads = [threading.Thread(target=group, args=(k,)) for k in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    remote.close()
    for i, image in enumerate(images):
        (expected,) = local.detect([image])
        got = results[i]
        assert list(got.data["label"]) == list(expected.data["label"])  # type: ignore[attr-defined]
        assert np.allclose(got.xyxy, expected.xyxy, atol=1.0)  # type: ignore[attr-defined]
    assert any(len(results[i]) for i in results)  # the van, at least
    size = service.geometry().size
    assert all(shape[0] == 1 and shape[2:] == (size, size, 3) for shape in sent)  # uint8 HWC, no raw frames
    assert service.stats()["images"] == len(images) and len(letterbox_uint8(images[0], size)[0].tobytes()) < 600_000


@pytest.mark.cluster
@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_ray_groups_share_a_cpu_detector_actor(tmp_path: Path, vtest_path: Path, model_dir: Path) -> None:
    data = demo_config_dict(tmp_path)
    (camera,) = data["cameras"]
    camera["rules"][0]["min_dwell_s"] = 5
    camera["replay"] = {"speed": "realtime"}
    data["cameras"] = [{**camera, "id": f"cam{i}"} for i in range(2)]
    data["cluster"] = {
        "engine": "ray",
        "address": "local",
        "cameras_per_worker": 1,
        "detector_placement": "actors",
        "detector_actors": 1,
        "detector_gpus": 0,
    }
    config = CitywatchConfig.model_validate(data)
    database = open_database(config.storage.database_url)
    register_cameras(database, config.cameras)
    sink = EventSink.from_config(config, database)
    engine = RayEngine(config, sink, ModeHolder(config, database))
    engine.start()
    try:
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            with database.session() as session:
                cameras = set(session.scalars(select(Event.camera_id)))
            if cameras == {"cam0", "cam1"}:
                break
            time.sleep(1)
        assert cameras == {"cam0", "cam1"}, engine.cluster()
        import ray  # the engine started Ray (address: local); the actor's counters are read through it

        stats = ray.get(engine.detector_actors[0].stats.remote())
        runs = engine.detector_stats()
    finally:
        engine.stop()
        database.dispose()
    assert {w["worker"] for w in engine.cluster()["workers"]} == {"g0", "g1"}
    assert stats["images"] >= sum(r["run"] for r in runs.values()) > 0  # every detector run went to the actor
