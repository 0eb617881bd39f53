"""Shared test fixtures: where the read-only footage and models are, and config builders.

`CITYWATCH_SHARED_DIR` points at the shared folder (default: ../shared beside the repo).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CITYWATCH_SHARED_DIR", REPO.parent / "shared")).resolve()
VTEST = SHARED / "media" / "vtest.avi"
MODEL_DIR = SHARED / "models"
#: The zone of the skeleton issue: the kerb with the parked white van, top right of vtest.avi.
KERB_ZONE = [[0.83, 0.05], [0.94, 0.05], [0.94, 0.25], [0.83, 0.25]]


def demo_config_dict(tmp_path: Path, **camera_overrides: object) -> dict:
    """The demo config as a dict, with storage under tmp_path and absolute media/model paths."""
    camera = {
        "id": "campus-road",
        "name": "Campus road junction",
        "district": "新华区",
        "street": "光明路街道",
        "url": str(VTEST),
        "analysis_fps": 2,
        "zones": [{"id": "kerb", "polygon": KERB_ZONE}],
        "rules": [
            {"id": "kerb-no-parking", "type": "illegal_parking", "zones": ["kerb"],
             "labels": ["car", "truck", "bus", "motorcycle"], "min_dwell_s": 20}
        ],
    }
    camera.update(camera_overrides)
    return {
        "detector": {"model": "yolox_nano.onnx", "model_dirs": [str(MODEL_DIR)]},
        "storage": {
            "database_url": f"sqlite:///{tmp_path / 'citywatch.db'}",
            "evidence_dir": str(tmp_path / "evidence"),
        },
        "cameras": [camera],
    }


def write_config(tmp_path: Path, data: dict, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def vtest_path() -> Path:
    if not VTEST.is_file():
        pytest.fail(f"shared footage missing: {VTEST} (set CITYWATCH_SHARED_DIR)")
    return VTEST


@pytest.fixture(scope="session")
def model_dir() -> Path:
    if not (MODEL_DIR / "yolox_nano.onnx").is_file():
        pytest.fail(f"shared model store missing: {MODEL_DIR} (set CITYWATCH_SHARED_DIR)")
    return MODEL_DIR
