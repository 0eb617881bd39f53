"""`citywatch dataset export`: the operators' reviews as a YOLO-format training dataset.

    citywatch dataset export --config F --out DIR [--since ISO] [--until ISO] [--labels a,b]
                             [--val-fraction 0.2] [--seed 0]

Reads the config's database and evidence folder (`citywatch.learning.dataset`); prints the split
(samples and camera-day groups per split). Exit 2 on bad arguments or an empty selection.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from citywatch.config import load_config
from citywatch.domain.db import open_database
from citywatch.learning.dataset import DatasetError, export_dataset

EXIT_BAD = 2


def parse_time(text: str | None) -> datetime | None:
    """An ISO date or time (UTC when it names no zone); None for None."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date or time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def register(subparsers: Any) -> None:
    """Add `citywatch dataset export`."""
    parser = subparsers.add_parser("dataset", help="training datasets from the operators' reviews")
    sub = parser.add_subparsers(dest="dataset_command", required=True)
    export = sub.add_parser("export", help="write reviewed alerts, case photos and annotations as a YOLO dataset")
    export.add_argument("--config", required=True, help="config YAML (its database and evidence folder)")
    export.add_argument("--out", required=True, type=Path, help="new folder for the dataset")
    export.add_argument("--since", type=parse_time, default=None, help="first time included (ISO, UTC by default)")
    export.add_argument("--until", type=parse_time, default=None, help="time excluded from here on (ISO)")
    export.add_argument("--labels", default="", help="Citywatch labels to keep, e.g. litter,water (default: all)")
    export.add_argument("--val-fraction", type=float, default=0.2, help="share of samples held back for val")
    export.add_argument("--seed", type=int, default=0, help="seed of the camera-day split")
    export.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    """Export and print the split; 2 when nothing fits."""
    config = load_config(args.config)
    labels = [label.strip() for label in args.labels.split(",") if label.strip()] or None
    database = open_database(config.storage.database_url, create=False)
    try:
        with database.read_session() as session:
            report = export_dataset(
                session, Path(config.storage.evidence_dir), args.out, args.since, args.until, labels,
                args.val_fraction, args.seed,
            )  # fmt: skip
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD
    finally:
        database.dispose()
    print(f"dataset {report.out}: labels {', '.join(report.names)}; manifest sha256 {report.manifest_sha256}")
    for split in ("train", "val"):
        groups = report.groups[split]
        print(
            f"  {split}: {report.counts[split]} sample(s) from {len(groups)} camera-day group(s): {', '.join(groups)}"
        )
    kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(report.kinds.items()))
    print(f"  sources: {kinds}; negatives (empty labels): {report.negatives}")
    if report.skipped:
        more = " ..." if len(report.skipped) > 5 else ""
        print(f"  left out: {len(report.skipped)} ({'; '.join(report.skipped[:5])}{more})")
    return 0
