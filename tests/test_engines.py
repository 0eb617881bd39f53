"""Inference engines: `detector.engine`, the OpenVINO backend against onnxruntime on vtest.avi (skipped
when the optional `openvino` extra is absent), the error without it, and the box agreement measure
that validates engines and derived models against FP32."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pydantic
import pytest
import supervision as sv

from citywatch.config import DetectorConfig
from citywatch.detectors import load_detector
from tests.support import REPO
from vision.detect.agreement import agreement, match
from vision.detect.variants import spread_frames

NAMES = ["person", "bicycle", "car"]
HAS_OPENVINO = importlib.util.find_spec("openvino") is not None


def _dets(boxes: list[list[float]], classes: list[int], scores: list[float]) -> sv.Detections:
    return sv.Detections(
        xyxy=np.array(boxes, dtype=np.float32).reshape(-1, 4),
        class_id=np.array(classes, dtype=int),
        confidence=np.array(scores, dtype=np.float32),
    )


def test_agreement_counts_matches_per_group_at_the_iou_threshold() -> None:
    reference = _dets([[0, 0, 10, 10], [20, 20, 30, 30], [50, 50, 60, 60]], [0, 2, 2], [0.9, 0.8, 0.7])
    candidate = _dets(
        [[0, 0, 10, 11], [20, 20, 30, 30], [50, 50, 60, 60], [80, 80, 90, 90]], [0, 2, 0, 2], [0.9, 0.8, 0.7, 0.6]
    )
    result = agreement([reference], [candidate], NAMES)
    # box 3 has the wrong group (person for a car), box 4 is not in the reference
    assert (result.reference, result.candidate, result.matched) == (3, 4, 2)
    assert result.recall == pytest.approx(2 / 3) and result.precision == pytest.approx(0.5)
    assert result.mean_iou == pytest.approx((100 / 110 + 1.0) / 2)
    assert match(reference, _dets([[0, 0, 10, 30]], [0], [0.9]), iou=0.5) == []  # IoU 1/3


def test_agreement_ignores_low_scores_and_other_classes() -> None:
    reference = _dets([[0, 0, 10, 10], [20, 20, 30, 30]], [0, 1], [0.9, 0.9])  # a bicycle: not compared
    candidate = _dets([[0, 0, 10, 10], [40, 40, 50, 50]], [0, 2], [0.9, 0.2])  # the car scores < 0.3
    result = agreement([reference], [candidate], NAMES)
    assert (result.reference, result.candidate, result.matched, result.mean_iou) == (1, 1, 1, 1.0)


def test_engine_is_a_checked_choice() -> None:
    assert DetectorConfig().engine == "onnxruntime"
    assert DetectorConfig(engine="openvino").engine == "openvino"
    with pytest.raises(pydantic.ValidationError, match="engine"):
        DetectorConfig(engine="tensorrt")


def test_openvino_engine_without_openvino_names_the_model_and_the_extra(model_dir: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["openvino"] = None  # as on a machine without the optional extra
        from citywatch.config import DetectorConfig
        from citywatch.detectors import load_detector
        from vision.detect import DetectorError
        try:
            load_detector(DetectorConfig(engine="openvino", model_dirs=[{str(model_dir)!r}]))
        except DetectorError as exc:
            print("DetectorError:", exc)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert "DetectorError:" in done.stdout, done.stderr
    assert str(model_dir / "yolox_nano.onnx") in done.stdout
    assert "citywatch[openvino]" in done.stdout


@pytest.mark.skipif(
    not HAS_OPENVINO, reason="openvino not installed (optional extra: pip install 'citywatch[openvino]')"
)
def test_openvino_backend_gives_onnxruntimes_detections(model_dir: Path, vtest_path: Path) -> None:
    frames = spread_frames(vtest_path, 10, offset=3)
    onnx_rt = load_detector(DetectorConfig(model_dirs=[str(model_dir)]))
    openvino = load_detector(DetectorConfig(model_dirs=[str(model_dir)], engine="openvino"))
    assert type(openvino.backend).__name__ == "OpenVinoBackend"
    assert openvino.splittable and openvino.max_batch == 1
    reference, candidate = onnx_rt.backend(frames), openvino.backend(frames)
    measured = agreement(reference, candidate, onnx_rt.class_names)
    assert measured.reference > 20
    # bf16 on CPUs that have it: the same objects, boxes within a few pixels
    assert measured.recall >= 0.95 and measured.precision >= 0.95, measured
    assert measured.mean_iou >= 0.95, measured
    labelled = openvino.detect(frames[:2])
    assert all("label" in d.data for d in labelled if len(d))
