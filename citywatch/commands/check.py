"""`citywatch check-config FILE`: validate a config and print a summary (errors name file, line, field)."""

from __future__ import annotations

import argparse

from citywatch.config import load_config
from citywatch.redaction import redact, register_config


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `citywatch check-config`."""
    check = subparsers.add_parser("check-config", help="validate a config file and print a summary")
    check.add_argument("file", help="config YAML")
    check.set_defaults(func=cmd_check_config)


def cmd_check_config(args: argparse.Namespace) -> int:
    """Print what the config sets up; a `ConfigError` (exit 2) when it is invalid."""
    config = load_config(args.file)
    register_config(config)  # URLs are printed, and errors may quote them: passwords masked
    # deferred: the model store and vision.detect are only needed here, not by every command
    from citywatch.config.loading import config_error
    from citywatch.detectors import model_labels, unproduced_labels
    from vision.errors import DetectorError

    try:  # rule labels against what the configured models produce (found in the store, not opened)
        label_problems = unproduced_labels(config, model_labels(config))
    except DetectorError as exc:  # a missing model is `run`'s error to report; the labels stay unchecked
        label_problems = []
        print(f"{args.file}: models not checked: {exc}")
    if label_problems:
        raise config_error(args.file, label_problems)
    print(f"{args.file}: valid")
    print(f"  detector: {config.detector.model} ({config.detector.backend})")
    print(f"  database: {redact(config.storage.database_url)}")
    print(f"  evidence: {config.storage.evidence_dir}")
    for camera in config.cameras:
        print(
            f"  camera {camera.id} ({camera.name or '-'}, {camera.district} {camera.street}): {redact(camera.url)} "
            f"@ {camera.analysis_fps:g} fps, {len(camera.zones)} zone(s), {len(camera.rules)} rule(s)"
        )
        for rule in camera.rules:
            print(f"    rule {rule.id}: {rule.type} in {', '.join(rule.zones)} for {', '.join(rule.labels)}")
    return 0
