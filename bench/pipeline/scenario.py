"""The pipeline bench's scenarios, as config dicts (storage under a given folder).

- `replay_config`: the campus footage (vtest.avi) looped for `minutes`, analysed at 2 fps, with a
  kerb zone holding the two parked vehicles (a van and a car on the double yellow lines: two
  illegal-parking events) and the busy road the pedestrians cross all clip long (a no-stopping
  zone for vehicles: motion nearly every frame, no event).
- `cameras_config`: N RTSP cameras of the project's test server (D1, 25 fps, a keyframe a second),
  analysed at 1 fps, one kerb zone with an illegal-parking rule each. Only what the scenario fixes
  is set: everything else (detector threads, scheduling, ingest) is the shipped default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support import KERB_ZONE, MODEL_DIR, VTEST, kerb_rule

#: Both parked vehicles (van and car) on the double yellow lines.
KERB_BOTH = [[0.83, 0.05], [1.0, 0.05], [1.0, 0.25], [0.83, 0.25]]
#: The road the pedestrians walk across, left of the junction.
CROSSING = [[0.02, 0.33], [0.70, 0.30], [0.78, 0.45], [0.45, 0.55], [0.02, 0.42]]


def storage(folder: Path) -> dict[str, str]:
    return {"database_url": f"sqlite:///{folder / 'citywatch.db'}", "evidence_dir": str(folder / "evidence")}


def replay_camera(minutes: float, url: Path = VTEST) -> dict[str, Any]:
    """The replayed campus camera: kerb zone (two vehicles) and crossing zone, 2 analysed fps."""
    return {
        "id": "campus-road",
        "url": str(url),
        "analysis_fps": 2,
        "start_time": "2026-06-01T10:00:00",
        "replay": {"speed": "fast", "loop": True, "max_stream_s": minutes * 60},
        "zones": [{"id": "kerb", "polygon": KERB_BOTH}, {"id": "crossing", "polygon": CROSSING}],
        "rules": [
            {"id": "kerb-no-parking", "type": "illegal_parking", "zones": ["kerb"], "min_dwell_s": 20},
            {"id": "crossing-no-stopping", "type": "illegal_parking", "zones": ["crossing"], "min_dwell_s": 10},
        ],
    }


def replay_config(folder: Path, minutes: float = 10.0, **detector: Any) -> dict[str, Any]:
    """The replay scenario with the shipped detector defaults (plus `detector` overrides)."""
    return {
        "detector": {"model": "yolox_nano.onnx", "model_dirs": [str(MODEL_DIR)], **detector},
        "storage": storage(folder),
        "cameras": [replay_camera(minutes)],
    }


def live_camera(index: int, url: str) -> dict[str, Any]:
    """One RTSP camera: 1 analysed fps, the demo's kerb zone, an illegal-parking rule."""
    return {
        "id": f"cam{index:03d}",
        "url": url,
        "analysis_fps": 1,
        "zones": [{"id": "kerb", "polygon": KERB_ZONE}],
        "rules": [kerb_rule()],
    }


def cameras_config(folder: Path, url: str, cameras: int, **detector: Any) -> dict[str, Any]:
    """N cameras on one test-server path, shipped defaults (plus `detector` overrides)."""
    return {
        "detector": {"model": "yolox_nano.onnx", "model_dirs": [str(MODEL_DIR)], **detector},
        "storage": storage(folder),
        "api": {"anonymous_read": True},
        "cameras": [live_camera(i, url) for i in range(cameras)],
    }
