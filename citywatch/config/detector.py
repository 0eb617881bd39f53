"""The `detector:` and `detectors:` sections: which model runs, its thresholds, batching and gating."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field

from citywatch.config.base import ConfigModel


def default_inference_workers(cores: int | None = None) -> int:
    """Concurrent detector calls when `inference_workers` is unset: half the cores, 1 to 8."""
    cores = cores or os.cpu_count() or 1
    return max(1, min(8, cores // 2))


class DetectorConfig(ConfigModel):
    """Which object detector runs, and how."""

    model: str = Field(
        "yolox_nano.onnx",
        title="Model",
        description="A bare file name looked up in the model store, or a path to a weights file.",
    )
    backend: Literal["auto", "yolox_onnx", "ultralytics"] = Field(
        "auto",
        title="Backend",
        description="'auto' picks onnxruntime for YOLOX-style .onnx files and ultralytics for the rest.",
    )
    model_dirs: list[str] = Field(
        default_factory=lambda: ["models", "../shared/models"],
        title="Model store",
        description="Directories searched for a bare model name, after $CITYWATCH_MODEL_DIR when it is set.",
    )
    confidence: float = Field(0.3, gt=0.0, lt=1.0, title="Confidence", description="Minimum detection score.")
    iou: float = Field(0.45, gt=0.0, lt=1.0, title="NMS IoU", description="IoU above which boxes merge.")
    input_size: int | None = Field(
        None, ge=32, le=4096, title="Input size", description="Square network input; default: the model's own."
    )
    threads: int | None = Field(
        1,
        ge=1,
        le=256,
        title="Threads",
        description="CPU threads of each inference call (null: the runtime's own choice, one per core). One "
        "thread costs the least CPU per detection once several cameras share the cores (docs/benchmarks.md).",
    )
    inference_workers: int | None = Field(
        None,
        ge=1,
        le=64,
        title="Inference workers",
        description="Detector calls that may run at once, sharing one model session (each with `threads` "
        "threads); null: half the cores, at least 1, at most 8, so one call per core pair runs while "
        "the others decode.",
    )
    spin: bool = Field(
        False,
        title="Spinning threads",
        description="Let onnxruntime's idle inference threads spin-wait: a little lower latency on an "
        "otherwise idle machine, but CPU burnt that camera decoding needs.",
    )
    engine: Literal["onnxruntime", "openvino"] = Field(
        "onnxruntime",
        title="Inference engine",
        description="What runs a YOLOX ONNX model: onnxruntime, or OpenVINO's CPU plugin (the optional "
        "extra `citywatch[openvino]`; bf16 where the CPU has it). Ultralytics models run their own. "
        "Measured in docs/benchmarks.md.",
    )
    batch_size: int = Field(
        1, ge=1, le=64, title="Batch size", description="Most frames, across cameras, sent in one call."
    )
    batch_wait_ms: float = Field(
        20.0, ge=0.0, le=1000.0, title="Batch deadline", description="Longest a frame waits to fill a batch."
    )
    name: str | None = Field(
        None,
        title="Name",
        description="Name of this detector in `detectors:` (default: the model's manifest name).",
    )
    cameras: list[str] = Field(
        default_factory=list,
        max_length=1000,
        title="Cameras",
        description="In `detectors:`, the camera ids this detector runs for (empty: every camera whose rules "
        "need its labels). A promoted model (`citywatch models promote`) is such a scoped entry.",
    )
    serves: list[str] = Field(
        default_factory=list,
        max_length=64,
        title="Labels taken over",
        description="In `detectors:`, Citywatch labels this detector alone gives on its cameras, replacing "
        "the detectors listed before it for them (empty: its labels are merged with the others').",
    )
    manifest: str | None = Field(
        None,
        title="Extra manifest",
        description="An operator's models.yaml consulted after the repo's (see `citywatch models add`).",
    )
    motion_gating: bool = Field(
        True,
        title="Detection scheduling",
        description="Run the detector only on the frames the active rules need (a change in their zones "
        "or tracked boxes, a stay about to trigger, a lost stay, a periodic re-check); the same events as "
        "detecting every analysed frame (docs/rules.md). False: detect every analysed frame.",
    )
    recheck_s: float = Field(
        10.0,
        gt=0.0,
        le=3600.0,
        title="Gating re-check (s)",
        description="With detection scheduling, detect at least this often (stream seconds) so parked vehicles "
        "stay tracked.",
    )
    motion_threshold: float = Field(
        0.005,
        gt=0.0,
        lt=1.0,
        title="Motion threshold",
        description="Fraction of zone pixels that must change (downscaled) for a frame to count as moving.",
    )
    motion_min_interval_s: float | None = Field(
        None,
        ge=0.0,
        le=60.0,
        title="Gating interval under motion (s)",
        description="With detection scheduling, while the zones keep changing, detect at most this often "
        "(0: every moving frame; null: every second analysed frame, so an entry is seen at most one "
        "analysis interval late).",
    )

    motion_defer_frames: int = Field(
        3,
        ge=0,
        le=16,
        title="Deferred frames under motion",
        description="With detection scheduling, under motion hold up to this many analysed frames until the "
        "next detection: if the watched objects are unchanged they keep the earlier detections, otherwise "
        "each is detected (same events; a busy zone costs one detection per this many + 1 frames). 0: "
        "detect every second moving frame instead.",
    )

    def workers(self) -> int:
        """Concurrent detector calls (`inference_workers`, or the default for this machine)."""
        return self.inference_workers or default_inference_workers()
