"""`citywatch models`: list the models Citywatch knows and add an operator's own.

    citywatch models list [--manifest PATH] [--model-dir DIR]
    citywatch models add FILE --name NAME [--manifest PATH] [--backend B] [--labels cls=label,...]

`list` prints each manifest entry with whether its file is present in the model store and matches
its sha256 (exit status 1 when any is missing or corrupt). `add` hashes FILE and writes an entry
to the chosen manifest (default `./models/models.yaml`); the weights file stays where it is and
must be put in the model store ($CITYWATCH_MODEL_DIR or `detector.model_dirs`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from citywatch.modelstore import BACKENDS, MANIFEST_NAME, ModelStoreError, add_model, model_status
from vision.offline import ensure_offline_ultralytics

DEFAULT_DIRS = ["models", "../shared/models"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `models` subcommand (with `list` and `add`) to the CLI's subparsers."""
    parser = subparsers.add_parser("models", help="list or add detection models in the model store")
    sub = parser.add_subparsers(dest="models_command", required=True)

    listing = sub.add_parser("list", help="show each known model and whether its file is present and valid")
    listing.add_argument("--manifest", action="append", default=[], help="extra manifest to read (repeatable)")
    listing.add_argument("--model-dir", action="append", default=None, help="model store directory (repeatable)")
    listing.set_defaults(func=cmd_list)

    add = sub.add_parser("add", help="describe a weights file in a manifest, with its sha256")
    add.add_argument("file", type=Path, help="the weights file (.onnx, .pt, ...)")
    add.add_argument("--name", required=True, help="the model's name in configs")
    add.add_argument(
        "--manifest",
        type=Path,
        default=Path("models") / MANIFEST_NAME,
        help="manifest to write (created if absent)",
    )
    add.add_argument("--backend", choices=BACKENDS, default="auto", help="detector backend")
    add.add_argument("--labels", default="", help="class=label mapping, e.g. 'garbage=litter,car=car'")
    add.add_argument("--input-size", type=int, default=None, help="square network input size")
    add.add_argument("--licence", default="", help="the weights' licence")
    add.add_argument("--source", default="", help="where the weights came from")
    add.set_defaults(func=cmd_add)


def cmd_list(args: argparse.Namespace) -> int:
    """Print the model table; 1 when any model is missing or corrupt."""
    dirs = args.model_dir or DEFAULT_DIRS
    try:
        statuses = model_status(dirs, [Path(m) for m in args.manifest])
    except ModelStoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not statuses:
        print("no models in any manifest")
        return 0
    print(f"{'NAME':24} {'FILE':28} {'BACKEND':12} {'STATE':10} PATH / DETAIL")
    for status in statuses:
        entry = status.entry
        where = str(status.path) if status.path else ""
        detail = status.detail if status.state != "ok" else entry.licence
        print(f"{entry.name:24} {entry.file:28} {entry.backend:12} {status.state:10} {where} {detail}".rstrip())
    return 1 if any(s.state in ("missing", "corrupt") for s in statuses) else 0


def cmd_add(args: argparse.Namespace) -> int:
    """Write the entry; 2 on a bad file, backend or label mapping."""
    # deferred: the label vocabulary comes with the detection stack, which `models list` never needs
    from vision.labels import COCO_MAPPING, parse_mapping

    try:
        mapping = parse_mapping(args.labels) if args.labels else None
        class_names = _class_names(args.file, args.backend)
        if mapping is None and class_names:
            mapping = {name: COCO_MAPPING[name] for name in class_names if name in COCO_MAPPING}
        entry = add_model(
            args.file,
            args.name,
            args.manifest,
            backend=args.backend,
            label_mapping=mapping,
            input_size=args.input_size,
            class_names=class_names,
            licence=args.licence,
            source=args.source,
        )
    except (ModelStoreError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"added {entry.name} ({entry.file}, sha256 {entry.sha256}) to {args.manifest}")
    print("put the file in the model store ($CITYWATCH_MODEL_DIR or detector.model_dirs) to use it")
    return 0


def _class_names(file: Path, backend: str) -> list[str]:
    """Class names read from an ultralytics model, [] for others (give them in the manifest)."""
    if backend == "yolox_onnx" or (backend == "auto" and file.suffix.lower() == ".onnx"):
        return []
    try:
        ensure_offline_ultralytics()
        # deferred, and only after the offline environment is set: ultralytics reads it at import
        from ultralytics import YOLO

        names = YOLO(str(file), task="detect").names
    except Exception as exc:
        raise ValueError(f"cannot read class names from {file}: {exc}") from exc
    return [names[i] for i in sorted(names)] if isinstance(names, dict) else list(names)


def main(argv: list[str] | None = None) -> int:
    """Run `models ...` standalone (`python -m citywatch.commands.models list`)."""
    parser = argparse.ArgumentParser(prog="citywatch")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["models", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
