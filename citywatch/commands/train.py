"""`citywatch train`: fine-tune an ultralytics detector on an exported dataset, offline.

    citywatch train --data DIR --base MODEL --epochs N --out NAME [--imgsz 320] [--device auto|cpu|0]
                    [--batch 8] [--store DIR] [--model-dir DIR]

MODEL is a `.pt` in the model store or an architecture YAML shipped with ultralytics (e.g.
`yolov8n.yaml`, trained from scratch). The weights go to `--store` (default $CITYWATCH_MODEL_DIR,
else `models/`) as NAME.pt, recorded in its `derived.yaml` (`citywatch.learning.training`).
Exit 2: bad arguments or dataset; 3: the base model or training failed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from citywatch.learning.training import TrainingError, train_model

DEFAULT_DIRS = ["models", "../shared/models"]


def store_dir(given: Path | None) -> Path:
    """The writable model store directory: `given`, else $CITYWATCH_MODEL_DIR, else `models`."""
    return given or Path(os.environ.get("CITYWATCH_MODEL_DIR") or "models")


def register(subparsers: Any) -> None:
    """Add `citywatch train`."""
    parser = subparsers.add_parser("train", help="fine-tune a detector on an exported dataset, offline")
    parser.add_argument("--data", required=True, type=Path, help="dataset folder (citywatch dataset export)")
    parser.add_argument("--base", required=True, help="stored .pt, or an ultralytics architecture yaml (yolov8n.yaml)")
    parser.add_argument("--epochs", required=True, type=int, help="training epochs")
    parser.add_argument("--out", required=True, help="name of the trained model in the store")
    parser.add_argument("--imgsz", type=int, default=320, help="square training input size")
    parser.add_argument("--device", default="auto", help="auto (a GPU when torch sees one), cpu, or a GPU index")
    parser.add_argument("--batch", type=int, default=8, help="images per training step")
    parser.add_argument("--store", type=Path, default=None, help="model store dir ($CITYWATCH_MODEL_DIR, else models)")
    parser.add_argument("--model-dir", action="append", default=None, help="where to find --base (repeatable)")
    parser.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    """Train and record the model; 2 on bad arguments, 3 when training fails."""
    if args.epochs < 1 or args.imgsz < 32 or args.batch < 1:
        print("error: --epochs and --batch must be at least 1, --imgsz at least 32", file=sys.stderr)
        return 2
    store = store_dir(args.store)
    try:
        entry = train_model(
            args.data, args.base, args.epochs, args.out, store, args.model_dir or [str(store), *DEFAULT_DIRS],
            imgsz=args.imgsz, device=args.device, batch=args.batch,
        )  # fmt: skip
    except TrainingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    metrics = ", ".join(f"{k} {v}" for k, v in entry.provenance.get("metrics", {}).items())
    print(f"trained {entry.name}: {store / entry.file} (sha256 {entry.sha256}); labels {', '.join(entry.class_names)}")
    print(f"validation on the held-back split: {metrics or 'no figures'}")
    return 0
