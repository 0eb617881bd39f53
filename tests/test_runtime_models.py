"""Several models per camera: the runtime runs a model only for cameras whose active rules need it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import supervision as sv

from citywatch.config import CitywatchConfig
from citywatch.domain.cameras import register_cameras
from citywatch.domain.db import open_database
from citywatch.runtime import run_replay
from citywatch.sink import EventSink
from tests.support import KERB_ZONE, VTEST, demo_config_dict
from vision.detect import Detector, DetectorSet


class CountingBackend:
    """A backend that finds nothing and counts the images it was given."""

    def __init__(self) -> None:
        self.images = 0

    def __call__(self, images: Sequence[np.ndarray]) -> list[sv.Detections]:
        self.images += len(images)
        return [sv.Detections.empty() for _ in images]


@pytest.mark.footage  # two cameras replay vtest.avi (the detectors are counting stand-ins)
def test_each_model_runs_only_for_the_cameras_that_need_it(tmp_path: Path) -> None:
    coco, litter = CountingBackend(), CountingBackend()
    detectors = DetectorSet(
        {
            "coco": Detector("coco", coco, ["car", "truck"], {"car": "car", "truck": "truck"}),
            "litter-model": Detector("litter-model", litter, ["garbage"], {"garbage": "litter"}),
        }
    )
    data = demo_config_dict(tmp_path, analysis_fps=0.5)
    data["detector"]["motion_gating"] = False  # every analysed frame detected: the counts are the routing
    litter_camera = {
        "id": "lawn",
        "url": str(VTEST),
        "analysis_fps": 0.5,
        "zones": [{"id": "grass", "polygon": KERB_ZONE}],
        "rules": [{"id": "grass-litter", "type": "litter", "source": "detector", "zones": ["grass"], "persist_s": 30}],
    }
    data["cameras"].append(litter_camera)
    config = CitywatchConfig.model_validate(data)
    database = open_database(config.storage.database_url)
    register_cameras(database, config.cameras)
    runtime = run_replay(config, detectors, EventSink(database, config.storage.evidence_dir))
    database.dispose()
    frames = {cid: h.frames_analysed for cid, h in runtime.health().items()}
    assert frames == {"campus-road": 40, "lawn": 40}
    assert detectors.calls == {"coco": 40, "litter-model": 40}
    assert coco.images == 40 and litter.images == 40  # not 80 each: every camera ran only its own model
