"""Bench clips: D1 (704x576) and 1080p H.264 at 25 fps, GOP 25, no B-frames, made from vtest.avi.

vtest.avi (10 fps) is played 2.5x faster so every 25 fps output frame differs (duplicated frames
would make decoding unrealistically cheap). Clips go to a temp folder, never into the repo.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.rtsp.fixtures import make_clip
from tests.support import VTEST

CLIP_DIR = Path(os.environ.get("CITYWATCH_BENCH_CLIPS", "/tmp/citywatch-bench"))
FPS = 25
GOP = 25
RESOLUTIONS = {"d1": (704, 576, "1500k"), "1080p": (1920, 1080, "4000k")}


def clips() -> dict[str, Path]:
    """{name: Annex-B file} for each resolution, encoded once and cached in CLIP_DIR."""
    CLIP_DIR.mkdir(parents=True, exist_ok=True)
    return {
        name: make_clip(
            VTEST,
            CLIP_DIR / f"{name}.h264",
            width=w,
            height=h,
            fps=FPS,
            gop=GOP,
            seconds=31.0,
            bitrate=rate,
            speedup=2.5,
        )
        for name, (w, h, rate) in RESOLUTIONS.items()
    }


if __name__ == "__main__":
    print(clips())
