"""Detection: label mapping, cross-camera batching, detector sets, both backends on real images,
and the offline guarantee (no network attempt while loading and running either backend)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import supervision as sv

from citywatch.config import CitywatchConfig, DetectorConfig
from citywatch.detectors import load_detector
from citywatch.modelstore import add_model
from tests.support import MODEL_DIR, REPO, VTEST
from vision.detect import BatchingDetector, Detector, DetectorError, DetectorSet, merge_detections
from vision.labels import COCO_MAPPING, expand_labels, map_labels, merge_same_object, parse_mapping
from vision.offline import ensure_offline_ultralytics

COCO = ["person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck"]


def _bus_jpg() -> np.ndarray:
    # deferred: a module-level import would run before `vision` sets ultralytics' offline environment
    import ultralytics

    image = cv2.imread(str(Path(ultralytics.__file__).parent / "assets" / "bus.jpg"))
    assert image is not None
    return image


def _dets(boxes: list[list[float]], classes: list[int], scores: list[float]) -> sv.Detections:
    return sv.Detections(
        xyxy=np.array(boxes, dtype=np.float32).reshape(-1, 4),
        confidence=np.array(scores, dtype=np.float32),
        class_id=np.array(classes, dtype=int),
    )


# --- label mapping -------------------------------------------------------------------------------


def test_map_labels_uses_citywatch_labels_and_drops_unmapped() -> None:
    dets = _dets([[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]], [3, 4, 0], [0.9, 0.8, 0.7])
    mapped = map_labels(dets, COCO, COCO_MAPPING)
    assert list(mapped.data["label"]) == ["motorcycle", "person"]  # the airplane has no mapping
    custom = map_labels(_dets([[0, 0, 5, 5]], [1], [0.5]), ["bag", "garbage"], {"garbage": "litter"})
    assert list(custom.data["label"]) == ["litter"]


def test_car_and_truck_at_one_place_are_one_vehicle_but_person_stays() -> None:
    dets = _dets([[100, 100, 200, 180], [102, 101, 201, 182], [105, 100, 200, 180]], [2, 7, 0], [0.6, 0.8, 0.9])
    merged = merge_same_object(map_labels(dets, COCO, COCO_MAPPING))
    assert sorted(merged.data["label"]) == ["person", "truck"]


def test_groups_and_mapping_parser() -> None:
    assert expand_labels(["vehicle", "litter"]) == {"car", "truck", "bus", "motorcycle", "litter"}
    assert expand_labels(["non_motor"]) == {"bicycle", "e-bike", "tricycle"}
    assert parse_mapping("garbage = litter, ebike=e-bike") == {"garbage": "litter", "ebike": "e-bike"}
    with pytest.raises(ValueError, match="unknown Citywatch label"):
        parse_mapping("cat=pet")
    with pytest.raises(ValueError, match="expected class=label"):
        parse_mapping("cat")


# --- batching ------------------------------------------------------------------------------------


class _EchoBackend:
    """Returns one box per image whose x1 encodes the image's first pixel; records batch sizes."""

    splittable = False

    def __init__(self, delay_s: float = 0.0) -> None:
        self.batch_sizes: list[int] = []
        self.order: list[int] = []
        self.delay_s = delay_s

    def __call__(self, images):
        self.batch_sizes.append(len(images))
        self.order.extend(int(image[0, 0, 0]) for image in images)
        time.sleep(self.delay_s)
        return [_dets([[float(image[0, 0, 0]), 0, 300, 10]], [0], [0.9]) for image in images]


def _image(value: int) -> np.ndarray:
    return np.full((4, 4, 3), value, dtype=np.uint8)


def test_frames_from_many_cameras_come_back_to_their_camera_in_order() -> None:
    backend = _EchoBackend(delay_s=0.002)
    batching = BatchingDetector(Detector("echo", backend, COCO, COCO_MAPPING), max_batch=4, max_wait_s=0.01)
    results: dict[int, list[int]] = {}

    def camera(cam: int) -> None:
        results[cam] = []
        for i in range(12):
            value = cam * 20 + i
            det = batching.detect(f"cam-{cam}", _image(value))
            results[cam].append(int(det.xyxy[0, 0]))
            assert list(det.data["label"]) == ["person"]

    threads = [threading.Thread(target=camera, args=(c,)) for c in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    batching.close()
    for cam in range(5):
        assert results[cam] == [cam * 20 + i for i in range(12)]
    assert batching.frames == 60 and max(backend.batch_sizes) > 1 and max(backend.batch_sizes) <= 4
    assert batching.per_camera["cam-3"] == 12


def test_submit_futures_and_priority_when_saturated() -> None:
    backend = _EchoBackend(delay_s=0.05)
    batching = BatchingDetector(Detector("echo", backend, COCO, COCO_MAPPING), max_batch=1, max_wait_s=0.0)
    blocker = batching.submit("slow", _image(1))
    time.sleep(0.01)  # the worker is now busy with the first frame; the rest queue up
    low = [batching.submit("low", _image(10 + i)) for i in range(3)]
    high = [batching.submit("high", _image(50 + i), priority=1) for i in range(3)]
    values = [int(f.result(timeout=5).xyxy[0, 0]) for f in [blocker, *low, *high]]
    batching.close()
    assert values == [1, 10, 11, 12, 50, 51, 52]
    assert backend.order == [1, 50, 51, 52, 10, 11, 12]  # high priority served first, FIFO within
    with pytest.raises(DetectorError):
        batching.submit("late", _image(0))


def test_batch_failure_reaches_every_caller() -> None:
    def broken(images):
        raise RuntimeError("model crashed")

    batching = BatchingDetector(Detector("broken", broken, COCO, COCO_MAPPING), max_batch=2, max_wait_s=0.01)
    with pytest.raises(RuntimeError, match="model crashed"):
        batching.detect("cam", _image(0), timeout=5)
    batching.close()


def test_detector_set_runs_only_needed_models_and_merges() -> None:
    coco, litter = _EchoBackend(), _EchoBackend()
    detectors = DetectorSet(
        {
            "coco": Detector("coco", coco, COCO, COCO_MAPPING),
            "litter": Detector("litter", litter, ["garbage"], {"garbage": "litter"}),
        }
    )
    assert detectors.needed(["vehicle"]) == ["coco"] and detectors.needed(["litter"]) == ["litter"]
    assert detectors.needed(["water"]) == [] and detectors.needed(None) == ["coco", "litter"]
    merged = detectors.detect("cam", _image(7), labels=["car", "litter"])
    assert sorted(merged.data["label"]) == ["litter", "person"]
    assert len(detectors.detect("cam", _image(7), labels=["water"])) == 0
    detectors.detect("cam", _image(7), labels=["vehicle"])
    detectors.close()
    assert detectors.calls == {"coco": 2, "litter": 1} and len(litter.order) == 1
    assert len(merge_detections([])) == 0


def test_config_accepts_extra_named_detectors_and_gating() -> None:
    config = CitywatchConfig.model_validate(
        {
            "detector": {"model": "yolox_nano.onnx", "motion_gating": True, "recheck_s": 5},
            "detectors": [{"name": "litter", "model": "litter.pt", "manifest": "ops/models.yaml"}],
            "cameras": [{"id": "c", "url": "x.mp4"}],
        }
    )
    assert config.detector.motion_gating and config.detector.recheck_s == 5
    assert config.detectors[0].name == "litter"
    assert CitywatchConfig.model_validate({"cameras": [{"id": "c", "url": "x.mp4"}]}).detectors == []


# --- real models -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def yolox(model_dir: Path) -> Detector:
    return load_detector(DetectorConfig(model="yolox_nano.onnx", model_dirs=[str(MODEL_DIR)], threads=2))


@pytest.mark.footage
def test_yolox_finds_the_bus_and_people(yolox: Detector) -> None:
    (dets,) = yolox.detect([_bus_jpg()])
    labels = list(dets.data["label"])
    assert labels.count("bus") >= 1 and labels.count("person") >= 3
    bus = dets.xyxy[labels.index("bus")]
    assert bus[2] - bus[0] > 500  # the bus spans most of the 810-pixel-wide image


@pytest.mark.footage
def test_yolox_finds_parked_van_and_car_in_vtest_at_2fps(yolox: Detector, vtest_path: Path) -> None:
    capture = cv2.VideoCapture(str(VTEST))
    batching = BatchingDetector(yolox, max_batch=4, max_wait_s=0.005)
    hits = frames = index = 0
    van, car = np.array([651, 42, 725, 99]), np.array([732, 51, 767, 94])
    while True:
        ok = capture.grab()
        if not ok:
            break
        if index % 5 == 0:  # 10 fps source, 2 fps analysis
            _, image = capture.retrieve()
            dets = batching.detect("vtest", image)
            vehicles = dets[np.isin(dets.data["label"], ["car", "truck", "bus"])]
            ious = sv.box_iou_batch(np.stack([van, car]).astype(np.float32), vehicles.xyxy) if len(vehicles) else None
            found = ious is not None and (ious.max(axis=1) > 0.5).all()
            hits += int(found)
            frames += 1
        index += 1
    batching.close()
    assert frames >= 150
    assert hits / frames >= 0.95, f"van and car found in {hits}/{frames} frames"


def _tiny_pt(path: Path) -> Path:
    """A random-weight YOLO11n with COCO names, built from its yaml (nothing downloaded)."""
    ensure_offline_ultralytics()
    # deferred until the offline environment is set: ultralytics reads it when imported
    from ultralytics import YOLO

    model = YOLO("yolo11n.yaml")
    model.model.names = dict(enumerate(COCO + [f"class{i}" for i in range(len(COCO), 80)]))
    model.save(str(path))
    return path


def test_ultralytics_pt_loads_through_the_store_and_runs(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    weights = _tiny_pt(store / "tiny.pt")
    manifest = tmp_path / "operator.yaml"
    add_model(weights, "tiny-yolo", manifest, backend="ultralytics", label_mapping={"car": "car", "bus": "bus"})
    config = DetectorConfig(
        model="tiny-yolo", model_dirs=[str(store)], manifest=str(manifest), input_size=320, confidence=0.01
    )
    detector = load_detector(config)
    assert detector.name == "tiny-yolo" and detector.class_names[2] == "car" and detector.labels == {"car", "bus"}
    batching = BatchingDetector(detector, max_batch=2, max_wait_s=0.01)
    dets = batching.detect("cam", _bus_jpg())
    batching.close()
    assert isinstance(dets, sv.Detections) and set(dets.data["label"]) <= {"car", "bus"}
    weights.write_bytes(weights.read_bytes()[:-10])  # truncated: the checksum no longer matches
    with pytest.raises(DetectorError, match="corrupt"):
        load_detector(config)


def test_no_network_while_loading_and_running_both_backends(tmp_path: Path) -> None:
    """In a fresh interpreter, every socket connect raises and is recorded, before any import."""
    script = textwrap.dedent(
        f"""
        import socket, sys
        attempts = []
        def refuse(*args, **kwargs):
            attempts.append(repr(args)[:200])
            raise OSError("network disabled by test")
        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        sys.path.insert(0, {str(REPO)!r})
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from pathlib import Path
        import numpy as np
        from test_detect import _tiny_pt, _bus_jpg
        from citywatch.config import DetectorConfig
        from citywatch.detectors import load_detector
        image = _bus_jpg()
        tiny = _tiny_pt(Path({str(tmp_path)!r}) / "t.pt")
        pt = load_detector(DetectorConfig(model=str(tiny), input_size=320))
        pt.detect([image, image])
        onnx = {str(MODEL_DIR / "yolox_nano.onnx")!r}
        if Path(onnx).is_file():
            labels = load_detector(DetectorConfig(model=onnx)).detect([image])[0].data["label"]
            assert "bus" in list(labels), labels
        print("ATTEMPTS", len(attempts), attempts)
        """
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ATTEMPTS 0 []" in done.stdout, done.stdout[-2000:]
    assert (tmp_path / "cache" / "citywatch" / "ultralytics" / "Ultralytics" / "Arial.ttf").is_file()
