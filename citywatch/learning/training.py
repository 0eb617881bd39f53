"""Fine-tuning an ultralytics detector on an exported dataset, with no network, into the model store.

`offline_environment` sets what ultralytics reads at import (YOLO_OFFLINE, YOLO_AUTOINSTALL, and
YOLO_CONFIG_DIR: a project folder holding the fonts it would otherwise download, linked from this
machine's own: DejaVu Sans for Arial.ttf, a CJK font for Arial.Unicode.ttf). `train_model` trains
from a stored `.pt` or an architecture YAML shipped inside ultralytics (from scratch), with AMP
and plots off (both would fetch files), then records the weights in the store's `derived.yaml`
with their sha256, class names, label mapping and provenance, so `resolve_model` and the detector
load them like any other model.

Example:
    >>> entry = train_model(Path("data/litter-ds"), "yolov8n.yaml", 30, "litter-v1", Path("models"))  # doctest: +SKIP
    >>> entry.provenance["metrics"]["mAP50"]  # doctest: +SKIP
    0.41
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from citywatch.learning.dataset import DatasetError, dataset_names, manifest_sha256, read_manifest
from citywatch.modelstore import DERIVED_MANIFEST_NAME, ModelEntry, ModelStoreError, add_model, resolve_model
from vision.labels import CITYWATCH_LABELS
from vision.offline import ensure_offline_ultralytics

#: Fonts ultralytics looks for, and where this machine may have one that serves (first found wins).
FONT_SOURCES = {
    "Arial.ttf": (
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    ),
    "Arial.Unicode.ttf": (
        "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    ),
}
#: Ultralytics' own names for the metrics of a validation, and Citywatch's.
METRIC_NAMES = {
    "metrics/precision(B)": "precision",
    "metrics/recall(B)": "recall",
    "metrics/mAP50(B)": "mAP50",
    "metrics/mAP50-95(B)": "mAP50-95",
}


class TrainingError(Exception):
    """Training that cannot start or finish: bad dataset, base model, device, or ultralytics failure."""


def offline_environment(config_dir: Path) -> Path:
    """Keep ultralytics off the network with its settings and fonts in `config_dir`; call before
    importing ultralytics. Fonts are linked (copied where links fail) from this machine, never fetched."""
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_AUTOINSTALL"] = "false"
    os.environ.setdefault("YOLO_VERBOSE", "true")  # progress on the terminal
    for folder in (config_dir, config_dir / "Ultralytics"):
        folder.mkdir(parents=True, exist_ok=True)
        for name, sources in FONT_SOURCES.items():
            target, source = folder / name, next((Path(s) for s in sources if Path(s).is_file()), None)
            if target.exists() or source is None:
                continue
            try:
                target.symlink_to(source)
            except OSError:
                shutil.copyfile(source, target)
    os.environ["YOLO_CONFIG_DIR"] = str(config_dir)
    return ensure_offline_ultralytics()  # fills in any font this machine lacks (matplotlib's DejaVu)


def pick_device(requested: str) -> str:
    """`auto`: the first GPU when torch sees one, else `cpu`; otherwise as given (`cpu`, `0`, ...)."""
    if requested != "auto":
        return requested
    # deferred: torch (with ultralytics) loads only when training or evaluating
    import torch

    return "0" if torch.cuda.is_available() else "cpu"


def base_weights(base: str, model_dirs: list[str]) -> tuple[str, dict[str, Any]]:
    """What `YOLO()` opens for `base`, and its provenance: a stored `.pt` (checked) or an architecture YAML."""
    if base.endswith((".yaml", ".yml")):
        return base, {"base": base, "from_scratch": True}
    try:
        resolved = resolve_model(base, model_dirs)
    except ModelStoreError as exc:
        raise TrainingError(f"base model: {exc}") from None
    if resolved.path.suffix.lower() != ".pt":
        raise TrainingError(f"base model {resolved.path} is not an ultralytics .pt (nor an architecture .yaml)")
    sha = resolved.entry.sha256 if resolved.entry else None
    return str(resolved.path), {"base": base, "base_file": str(resolved.path), "base_sha256": sha or ""}


def train_model(
    data: Path,
    base: str,
    epochs: int,
    name: str,
    store: Path,
    model_dirs: list[str] | None = None,
    imgsz: int = 320,
    device: str = "auto",
    batch: int = 8,
    config_dir: Path | None = None,
) -> ModelEntry:
    """Train `base` on the dataset at `data` for `epochs`, store the weights as `store/<name>.pt`
    and record them in `store/derived.yaml`; returns the entry. `TrainingError` on failure."""
    data = Path(data)
    if not (data / "data.yaml").is_file():
        raise TrainingError(f"{data} has no data.yaml: export a dataset first (citywatch dataset export)")
    try:
        names = dataset_names(data)
        samples = read_manifest(data)
    except (DatasetError, OSError, KeyError) as exc:
        raise TrainingError(f"dataset {data}: {exc}") from None
    if not any(line["split"] == "val" for line in samples):
        raise TrainingError(f"dataset {data} has no val split: export it with --val-fraction above 0")
    weights, provenance = base_weights(base, model_dirs or [str(store)])
    offline_environment(Path(config_dir or store / ".ultralytics"))
    chosen = pick_device(device)
    # deferred until the offline environment is set: ultralytics reads it when imported
    from ultralytics import YOLO

    model = YOLO(weights, task="detect")
    model.add_callback("on_fit_epoch_end", _progress)
    with tempfile.TemporaryDirectory(prefix="citywatch-train-") as runs:
        try:
            model.train(
                data=str((data / "data.yaml").resolve()), epochs=epochs, imgsz=imgsz, batch=batch, device=chosen,
                amp=False, plots=False, workers=0, project=runs, name="run", exist_ok=True, verbose=True,
            )  # fmt: skip
        except Exception as exc:  # ultralytics raises many kinds (dataset, device, CUDA)
            raise TrainingError(f"training failed: {exc}") from exc
        trainer: Any = model.trainer
        best = Path(trainer.best if Path(trainer.best).is_file() else trainer.last)
        metrics = {
            ours: round(float(v), 4)
            for key, ours in METRIC_NAMES.items()
            if (v := trainer.metrics.get(key)) is not None
        }
        store.mkdir(parents=True, exist_ok=True)
        target = store / f"{name}.pt"
        partial = target.with_name(target.name + ".part")
        shutil.copyfile(best, partial)
        partial.replace(target)
    provenance |= {
        "dataset": str(data.resolve()),
        "dataset_manifest_sha256": manifest_sha256(data),
        "samples": {split: sum(1 for s in samples if s["split"] == split) for split in ("train", "val")},
        "epochs": epochs,
        "imgsz": imgsz,
        "device": chosen,
        "metrics": metrics,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "tools": {tool: version(tool) for tool in ("ultralytics", "torch")},
    }
    return add_model(
        target,
        name,
        store / DERIVED_MANIFEST_NAME,
        backend="ultralytics",
        label_mapping={n: n for n in names if n in CITYWATCH_LABELS},
        input_size=imgsz,
        class_names=names,
        source=f"trained ({epochs} epoch(s)) from {base} on {data}",
        provenance=provenance,
    )


def _progress(trainer: Any) -> None:
    """Print one line per training epoch (whatever ultralytics' own verbosity)."""
    if trainer.epoch + 1 > trainer.epochs:  # the final validation of the best weights
        return
    figures = ", ".join(
        f"{METRIC_NAMES[k]} {float(v):.3f}" for k, v in (trainer.metrics or {}).items() if k in METRIC_NAMES
    )
    losses = trainer.tloss if isinstance(trainer.tloss, dict) else {}
    loss_text = f"loss {sum(float(v) for v in losses.values()):.3f}, " if losses else ""
    print(f"epoch {trainer.epoch + 1}/{trainer.epochs}: {loss_text}{figures}", file=sys.stderr, flush=True)
