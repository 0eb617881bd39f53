"""Derived model variants (`citywatch models derive`): a dynamic-batch export whose batch of 4 gives
the boxes of 4 single calls, an INT8 quantisation that keeps FP32's detections on vtest.avi at the
documented recall floor, checksums that refuse a corrupt derived file, and the command's exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import yaml

from citywatch.commands import models as models_cmd
from citywatch.config import DetectorConfig
from citywatch.detectors import load_detector
from citywatch.modelstore import DERIVED_MANIFEST_NAME, ModelStoreError, resolve_model, sha256_of
from tests.support import REPO
from vision.detect import DetectorError
from vision.detect.agreement import agreement
from vision.detect.variants import spread_frames

#: Recall of the INT8 variant's vehicle and person boxes vs FP32 (IoU 0.5, score >= 0.3) below which
#: it is not fit to ship; documented in docs/benchmarks.md ("Inference engines") and models/README.md.
INT8_RECALL_FLOOR = 0.95
SOURCE = "yolox-nano-coco"


@pytest.fixture(autouse=True)
def _no_env_model_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CITYWATCH_MODEL_DIR", raising=False)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("derived-store")


@pytest.fixture(scope="module")
def dynamic(store: Path, model_dir: Path) -> Path:
    entry = models_cmd.derive_variant(SOURCE, "dynamic-batch", store, [str(model_dir)])
    return store / entry.file


@pytest.fixture(scope="module")
def frames(vtest_path: Path) -> list[np.ndarray]:
    return spread_frames(vtest_path, 12, offset=7)


def test_dynamic_batch_of_four_gives_the_boxes_of_four_single_calls(
    store: Path, dynamic: Path, model_dir: Path, frames: list[np.ndarray]
) -> None:
    config = DetectorConfig(model=f"{SOURCE}-dynamic-batch", model_dirs=[str(store), str(model_dir)])
    detector = load_detector(config)  # found by name through the store's derived.yaml, sha256 checked
    assert detector.max_batch > 1, "the derived export still has a fixed batch"
    assert detector.backend.session.get_inputs()[0].shape[0] == "batch"
    batch = frames[:4]
    together = detector.detect(batch)  # one session call of 4 images
    alone = [detector.detect([image])[0] for image in batch]
    assert sum(len(d) for d in alone) > 0
    for joint, single in zip(together, alone, strict=True):
        assert list(joint.class_id) == list(single.class_id)
        np.testing.assert_allclose(joint.xyxy, single.xyxy, atol=0.05)
        np.testing.assert_allclose(joint.confidence, single.confidence, atol=1e-4)

    entry = yaml.safe_load((store / DERIVED_MANIFEST_NAME).read_text(encoding="utf-8"))["models"]
    recorded = next(e for e in entry if e["name"] == f"{SOURCE}-dynamic-batch")
    assert recorded["sha256"] == sha256_of(dynamic)
    assert recorded["provenance"]["variant"] == "dynamic-batch"
    assert recorded["provenance"]["source_sha256"] == sha256_of(model_dir / "yolox_nano.onnx")
    assert recorded["provenance"]["reshapes_rewritten"], "the head's batch-1 reshapes were not rewritten"


def test_int8_variant_keeps_fp32_detections_at_the_recall_floor(
    store: Path, model_dir: Path, vtest_path: Path, frames: list[np.ndarray]
) -> None:
    entry = models_cmd.derive_variant(SOURCE, "int8", store, [str(model_dir)], calibration=vtest_path, frames=16)
    path = store / entry.file
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops, "the file is not quantised"
    assert entry.provenance["calibration"] == {"video": str(vtest_path), "frames": 16}
    assert float(entry.provenance["accuracy_vs_fp32"]["recall"]) >= INT8_RECALL_FLOOR

    dirs = [str(store), str(model_dir)]
    int8 = load_detector(DetectorConfig(model=f"{SOURCE}-int8", model_dirs=dirs))
    fp32 = load_detector(DetectorConfig(model="yolox_nano.onnx", model_dirs=[str(model_dir)]))
    assert resolve_model(f"{SOURCE}-int8", dirs).path == path
    names = int8.class_names
    measured = agreement(fp32.backend(frames), int8.backend(frames), names)
    assert measured.reference > 20
    assert measured.recall >= INT8_RECALL_FLOOR, measured
    assert measured.precision >= 0.9, measured


def test_a_corrupt_derived_file_is_refused_naming_its_path(
    tmp_path: Path, dynamic: Path, model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "store"
    copy.mkdir()
    (copy / DERIVED_MANIFEST_NAME).write_bytes((dynamic.parent / DERIVED_MANIFEST_NAME).read_bytes())
    damaged = copy / dynamic.name
    data = bytearray(dynamic.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with pytest.raises(ModelStoreError, match="corrupt") as info:
        resolve_model(f"{SOURCE}-dynamic-batch", [str(copy)])
    assert str(damaged) in str(info.value)
    with pytest.raises(DetectorError) as detector_info:
        load_detector(DetectorConfig(model=dynamic.name, model_dirs=[str(copy), str(model_dir)]))
    assert str(damaged) in str(detector_info.value)
    assert models_cmd.main(["list", "--model-dir", str(copy), "--model-dir", str(model_dir)]) == 1
    assert "corrupt" in capsys.readouterr().out


def test_derive_cli_exit_codes_and_errors(
    tmp_path: Path, model_dir: Path, vtest_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = ["--out", str(tmp_path / "out"), "--model-dir", str(model_dir)]
    unknown = ["derive", "no-such-model", "--variant", "int8", "--calibration", str(vtest_path), *out]
    assert models_cmd.main(unknown) == 3
    assert "no-such-model" in capsys.readouterr().err
    with pytest.raises(SystemExit) as bad_variant:
        models_cmd.main(["derive", SOURCE, "--variant", "fp16", *out])
    assert bad_variant.value.code == 2
    assert "invalid choice: 'fp16'" in capsys.readouterr().err
    assert models_cmd.main(["derive", SOURCE, "--variant", "int8", *out]) == 3
    assert "needs calibration footage" in capsys.readouterr().err
    missing = tmp_path / "absent.avi"
    assert models_cmd.main(["derive", SOURCE, "--variant", "int8", "--calibration", str(missing), *out]) == 3
    assert str(missing) in capsys.readouterr().err
    strict = ["--calibration", str(vtest_path), "--frames", "4", "--min-recall", "1.01"]
    assert models_cmd.main(["derive", SOURCE, "--variant", "int8", *strict, *out]) == 3
    assert "below 1.01; not recorded" in capsys.readouterr().err
    assert not (tmp_path / "out" / DERIVED_MANIFEST_NAME).exists()
    assert not (tmp_path / "out" / "yolox_nano.int8.onnx").exists()


def test_derive_through_the_installed_command(tmp_path: Path, model_dir: Path) -> None:
    store = tmp_path / "store"
    derive = ["models", "derive", SOURCE, "--variant", "dynamic-batch", "--model-dir", str(model_dir)]
    done = subprocess.run(
        [sys.executable, "-m", "citywatch", *derive],
        cwd=REPO,
        env={**os.environ, "CITYWATCH_MODEL_DIR": str(store)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "derived yolox-nano-coco-dynamic-batch" in done.stdout
    assert (store / "yolox_nano.dynamic.onnx").is_file() and (store / DERIVED_MANIFEST_NAME).is_file()
    listed = subprocess.run(
        [sys.executable, "-m", "citywatch", "models", "list", "--model-dir", str(store), "--model-dir", str(model_dir)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    row = next(line for line in listed.stdout.splitlines() if line.startswith(f"{SOURCE}-dynamic-batch"))
    assert " ok " in row
