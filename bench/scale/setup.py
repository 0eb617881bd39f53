"""The scale bench's world: the low-rate clip, the RTSP test server's paths and the generated config.

The issue's operator setup: CIF 352x288 at 5 fps, a keyframe every 10 s, analysis at 0.1 fps,
motion gating on, one inference thread, four RTSP paths of the project's test server shared by
all cameras. Each camera has one kerb zone and an illegal-parking rule, so the parked van of
vtest.avi raises events whose trigger-to-row latency the bench reads from the database; the dwell
varies from 20 to 79 s between cameras, so the events spread over a minute instead of all
cameras triggering in the same second (their streams are in step: four shared server paths).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.rtsp.fixtures import make_clip
from tests.support import KERB_ZONE, MODEL_DIR, VTEST, kerb_rule

CLIP_DIR = Path(os.environ.get("CITYWATCH_BENCH_CLIPS", "/tmp/citywatch-bench"))
WIDTH, HEIGHT, FPS, GOP = 352, 288, 5, 50
PATHS = 4


def clip() -> Path:
    """The CIF clip (5 fps, GOP 50: a keyframe every 10 s, no B-frames), encoded once, cached."""
    CLIP_DIR.mkdir(parents=True, exist_ok=True)
    return make_clip(
        VTEST,
        CLIP_DIR / "cif-5fps-gop50.h264",
        width=WIDTH,
        height=HEIGHT,
        fps=FPS,
        gop=GOP,
        seconds=60.0,
        bitrate="300k",
    )


def server_paths(source: Path) -> dict[str, tuple[Path, int]]:
    """The test server's paths: `cif0..cif3`, all the same clip."""
    return {f"cif{i}": (source, FPS) for i in range(PATHS)}


def camera(index: int, url: str) -> dict[str, Any]:
    """One camera of the generated config: 0.1 analysed fps, the kerb zone, a parking rule."""
    return {
        "id": f"cam{index:03d}",
        "name": f"Scale camera {index}",
        "district": f"district-{index % 7}",
        "street": f"street-{index % 23}",
        "url": url,
        "analysis_fps": 0.1,
        "zones": [{"id": "kerb", "polygon": KERB_ZONE}],
        # the dwell spreads from 20 to 79 s: the cameras of a city do not all trigger in one second
        "rules": [kerb_rule(min_dwell_s=20 + index % 60)],
    }


def config(folder: Path, urls: list[str], cameras: int, engine: str = "inline") -> dict[str, Any]:
    """The whole config for `cameras` cameras spread round-robin over `urls`; storage under `folder`.
    Only what the scenario fixes is set: everything else (ingest, threads, API) is the shipped
    default. `engine` other than inline adds `cluster: {engine: ...}`."""
    data: dict[str, Any] = {
        "detector": {"model": "yolox_nano.onnx", "model_dirs": [str(MODEL_DIR)], "threads": 1, "motion_gating": True},
        "storage": {
            "database_url": f"sqlite:///{folder / 'citywatch.db'}",
            "evidence_dir": str(folder / "evidence"),
        },
        "api": {"anonymous_read": True},
        "cameras": [camera(i, urls[i % len(urls)]) for i in range(cameras)],
    }
    if engine != "inline":
        data["cluster"] = {"engine": engine}
    return data
