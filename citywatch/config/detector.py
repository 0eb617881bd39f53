"""The `detector:` and `detectors:` sections: which model runs, its thresholds, batching and gating."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from citywatch.config.base import ConfigModel


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
        None, ge=1, le=256, title="Threads", description="CPU threads for inference; default: the runtime's."
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
    manifest: str | None = Field(
        None,
        title="Extra manifest",
        description="An operator's models.yaml consulted after the repo's (see `citywatch models add`).",
    )
    motion_gating: bool = Field(
        False,
        title="Motion gating",
        description="Skip detection on frames with no change inside the camera's zones.",
    )
    recheck_s: float = Field(
        10.0,
        gt=0.0,
        le=3600.0,
        title="Gating re-check (s)",
        description="With motion gating, detect at least this often (stream seconds) so parked vehicles stay tracked.",
    )
    motion_threshold: float = Field(
        0.005,
        gt=0.0,
        lt=1.0,
        title="Motion threshold",
        description="Fraction of zone pixels that must change (downscaled) for a frame to count as moving.",
    )
    motion_min_interval_s: float = Field(
        1.0,
        ge=0.0,
        le=60.0,
        title="Gating interval under motion (s)",
        description="With motion gating, while the zones keep changing, detect at most this often "
        "(0: every moving frame).",
    )
