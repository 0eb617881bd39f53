"""Model store: manifest errors name the path, checksums are verified and cached, `models` CLI."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from citywatch.commands import models as models_cmd
from citywatch.config import DetectorConfig
from citywatch.detectors import load_detector
from citywatch.modelstore import (
    ChecksumCache,
    ModelStoreError,
    add_model,
    model_status,
    read_manifest,
    resolve_model,
    sha256_of,
    shipped_manifest,
)
from tests.support import MODEL_DIR
from vision.detect import DetectorError


def _write_manifest(path: Path, **entry: object) -> Path:
    path.write_text(yaml.safe_dump({"models": [entry]}), encoding="utf-8")
    return path


@pytest.fixture()
def weights(tmp_path: Path) -> Path:
    path = tmp_path / "store" / "toy.onnx"
    path.parent.mkdir()
    path.write_bytes(b"not really a model" * 100)
    return path


def test_missing_file_names_every_path_tried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CITYWATCH_MODEL_DIR", raising=False)
    with pytest.raises(ModelStoreError) as info:
        resolve_model("absent.onnx", [str(tmp_path / "a"), str(tmp_path / "b")])
    assert str(tmp_path / "a" / "absent.onnx") in str(info.value)
    assert str(tmp_path / "b" / "absent.onnx") in str(info.value)
    with pytest.raises(DetectorError, match=re.escape("absent.onnx")):
        load_detector(DetectorConfig(model="absent.onnx", model_dirs=[str(tmp_path)]))


def test_env_dir_is_searched_first(tmp_path: Path, weights: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYWATCH_MODEL_DIR", str(weights.parent))
    resolved = resolve_model("toy.onnx", [str(tmp_path / "elsewhere")])
    assert resolved.path == weights


def test_bad_checksum_names_path_and_both_sums(weights: Path) -> None:
    manifest = _write_manifest(weights.parent / "models.yaml", name="toy", file="toy.onnx", sha256="0" * 64)
    with pytest.raises(ModelStoreError) as info:
        resolve_model("toy.onnx", [str(weights.parent)], [manifest], cache=ChecksumCache())
    message = str(info.value)
    assert str(weights) in message and "0" * 64 in message and sha256_of(weights) in message


def test_good_checksum_and_lookup_by_manifest_name(weights: Path) -> None:
    manifest = _write_manifest(
        weights.parent / "extra.yaml", name="toy-model", file="toy.onnx", sha256=sha256_of(weights)
    )
    resolved = resolve_model("toy-model", [str(weights.parent)], [manifest], cache=ChecksumCache())
    assert resolved.path == weights and resolved.entry is not None and resolved.entry.name == "toy-model"


def test_unknown_backend_and_malformed_entries_are_refused(tmp_path: Path) -> None:
    bad = _write_manifest(tmp_path / "m.yaml", name="x", file="x.onnx", backend="tensorflow")
    with pytest.raises(ModelStoreError, match=r"unknown backend 'tensorflow'.*") as info:
        read_manifest(bad)
    assert str(bad) in str(info.value)
    with pytest.raises(ModelStoreError, match="bad entry"):
        read_manifest(_write_manifest(tmp_path / "n.yaml", name="x", file="x.onnx", colour="red"))
    with pytest.raises(ModelStoreError, match="malformed sha256"):
        read_manifest(_write_manifest(tmp_path / "o.yaml", name="x", file="x.onnx", sha256="abc"))
    (tmp_path / "p.yaml").write_text("models: [\n", encoding="utf-8")
    with pytest.raises(ModelStoreError, match="cannot be read"):
        read_manifest(tmp_path / "p.yaml")


def test_corrupt_weights_give_a_clear_detector_error(weights: Path) -> None:
    # No checksum in the manifest: the file is opened and onnxruntime's refusal names the path.
    with pytest.raises(DetectorError, match=re.escape(str(weights))):
        load_detector(DetectorConfig(model=str(weights), backend="yolox_onnx"))


def test_checksum_cache_hashes_once_until_the_file_changes(tmp_path: Path, weights: Path) -> None:
    store = tmp_path / "cache" / "sums.json"
    cache = ChecksumCache(store)
    first = cache.sha256(weights)
    assert cache.sha256(weights) == first and cache.hashed == 1
    restarted = ChecksumCache(store)  # a process restart reads the cache file
    assert restarted.sha256(weights) == first and restarted.hashed == 0
    weights.write_bytes(b"changed")
    os.utime(weights, ns=(1, 1))
    assert restarted.sha256(weights) == sha256_of(weights) != first and restarted.hashed == 1


def test_status_lists_ok_missing_and_corrupt(tmp_path: Path, weights: Path, monkeypatch) -> None:
    monkeypatch.delenv("CITYWATCH_MODEL_DIR", raising=False)
    manifest = tmp_path / "operator.yaml"
    manifest.write_text(
        yaml.safe_dump(
            {
                "models": [
                    {"name": "good", "file": "toy.onnx", "sha256": sha256_of(weights)},
                    {"name": "gone", "file": "gone.onnx"},
                ]
            }
        ),
        encoding="utf-8",
    )
    states = {s.entry.name: s.state for s in model_status([str(weights.parent)], [manifest], ChecksumCache())}
    assert states["good"] == "ok" and states["gone"] == "missing"
    assert states["yolox-nano-coco"] == "missing"  # the repo manifest's model is not in this store
    weights.write_bytes(b"tampered")
    states = {s.entry.name: s.state for s in model_status([str(weights.parent)], [manifest], ChecksumCache())}
    assert states["good"] == "corrupt"


def test_add_writes_an_entry_that_loads(tmp_path: Path, weights: Path) -> None:
    manifest = tmp_path / "ops" / "models.yaml"
    entry = add_model(weights, "toy", manifest, backend="yolox_onnx", label_mapping={"junk": "litter"})
    again = add_model(weights, "toy", manifest, backend="yolox_onnx", label_mapping={"junk": "litter"})
    entries = read_manifest(manifest)
    assert list(entries) == ["toy.onnx"] and entries["toy.onnx"].sha256 == entry.sha256 == again.sha256
    assert entries["toy.onnx"].label_mapping == {"junk": "litter"}
    with pytest.raises(ModelStoreError, match="unknown backend"):
        add_model(weights, "toy", manifest, backend="caffe")


def test_cli_add_and_list(tmp_path: Path, weights: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "ops.yaml"
    rc = models_cmd.main(
        [
            "add",
            str(weights),
            "--name",
            "toy",
            "--manifest",
            str(manifest),
            "--backend",
            "yolox_onnx",
            "--labels",
            "garbage=litter,pool=water",
        ]
    )
    assert rc == 0 and read_manifest(manifest)["toy.onnx"].label_mapping == {
        "garbage": "litter",
        "pool": "water",
    }
    rc = models_cmd.main(["add", str(weights), "--name", "t2", "--manifest", str(manifest), "--labels", "a=alien"])
    assert rc == 2 and "unknown Citywatch label" in capsys.readouterr().err
    rc = models_cmd.main(["list", "--manifest", str(manifest), "--model-dir", str(weights.parent)])
    out = capsys.readouterr().out
    assert rc == 1  # the repo's YOLOX model is not in this directory
    assert any(line.startswith("toy ") and " ok " in line for line in out.splitlines())
    assert any(line.startswith("yolox-nano-coco") and "missing" in line for line in out.splitlines())


@pytest.mark.footage
def test_repo_manifest_matches_the_shared_store(model_dir: Path) -> None:
    statuses = model_status([str(MODEL_DIR)], cache=ChecksumCache())
    assert {s.entry.name: s.state for s in statuses}["yolox-nano-coco"] == "ok"


def test_an_install_without_the_checkout_reads_the_manifest_its_wheel_installed(tmp_path: Path) -> None:
    """A wheel carries models/models.yaml as data (share/citywatch/), and the model store reads
    that copy when there is no checkout beside the package (an IT install on a worker node)."""
    repo = Path(__file__).resolve().parents[1]
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(repo),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("citywatch-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = [name for name in archive.namelist() if name.endswith("/data/share/citywatch/models.yaml")]
        assert shipped, "the wheel lacks the model manifest"
        installed = tmp_path / "prefix" / "share" / "citywatch" / "models.yaml"
        installed.parent.mkdir(parents=True)
        installed.write_bytes(archive.read(shipped[0]))
    site = tmp_path / "site-packages" / "citywatch"  # the package as a wheel installs it: no models/ beside it
    site.mkdir(parents=True)
    assert shipped_manifest(site, tmp_path / "prefix") == installed
    assert read_manifest(installed)["yolox_nano.onnx"].backend == "yolox_onnx"
    assert shipped_manifest() == repo / "models" / "models.yaml"  # in a checkout, the checkout's
