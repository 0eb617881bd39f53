"""`citywatch models`: list the models Citywatch knows and add an operator's own.

    citywatch models list [--manifest PATH] [--model-dir DIR]
    citywatch models add FILE --name NAME [--manifest PATH] [--backend B] [--labels cls=label,...]
    citywatch models derive NAME --variant int8|dynamic-batch [--calibration VIDEO] [--out DIR]
    citywatch models import-plates [--to DIR]
    citywatch models evaluate | promote | rollback | promotions ...   (citywatch/commands/promotion.py)

`list` prints each manifest entry with whether its file is present in the model store and matches
its sha256 (exit status 1 when any is missing or corrupt). `add` hashes FILE and writes an entry
to the chosen manifest (default `./models/models.yaml`); the weights file stays where it is and
must be put in the model store ($CITYWATCH_MODEL_DIR or `detector.model_dirs`). `derive` makes
a variant of a stored model (INT8 calibrated on a video, or a dynamic-batch export) in a writable
model directory (`--out`, default $CITYWATCH_MODEL_DIR, else `models/`) and records it in that
directory's `derived.yaml` with its sha256 and provenance (exit 2: bad arguments; 3: the source
model or the footage cannot be used, or the variant's recall vs FP32 is below `--min-recall`).
`import-plates` copies the plate reader's models (the manifest's `ppocr_det` and `ppocr_rec`
entries) out of the installed rapidocr_onnxruntime package into a model store directory (`--to`,
default $CITYWATCH_MODEL_DIR, else `models/`), checking each file's sha256 (exit 3 when the package
is missing or its files are not the ones the manifest names).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from citywatch.commands import promotion
from citywatch.modelstore import (
    BACKENDS,
    DERIVED_MANIFEST_NAME,
    MANIFEST_NAME,
    ModelEntry,
    ModelStoreError,
    add_model,
    all_entries,
    coco_class_names,
    model_status,
    resolve_model,
    verify,
)
from vision.offline import ensure_offline_ultralytics

DEFAULT_DIRS = ["models", "../shared/models"]
#: Variants `derive` makes (vision.detect.variants.VARIANTS, named here so the parser needs no model tools).
VARIANT_NAMES = ("int8", "dynamic-batch")
#: Manifest backends of the plate reader's models, which `import-plates` copies from RapidOCR's wheel.
PLATE_BACKENDS = ("ppocr_det", "ppocr_rec")
#: The package whose wheel carries the plate models (the `plates` extra).
PLATE_PACKAGE = "rapidocr_onnxruntime"


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

    derive = sub.add_parser("derive", help="derive an INT8 or dynamic-batch variant of a stored model")
    derive.add_argument("name", help="the stored model (manifest name or file name), e.g. yolox-nano-coco")
    derive.add_argument("--variant", required=True, choices=VARIANT_NAMES, help="what to derive")
    derive.add_argument("--calibration", type=Path, default=None, help="video to calibrate (int8) and validate on")
    derive.add_argument("--frames", type=int, default=32, help="calibration frames, spread over the video")
    derive.add_argument("--out", type=Path, default=None, help="writable model dir ($CITYWATCH_MODEL_DIR, else models)")
    derive.add_argument("--model-dir", action="append", default=None, help="where to find NAME (repeatable)")
    derive.add_argument("--min-recall", type=float, default=0.95, help="refuse a variant below this recall vs FP32")
    derive.set_defaults(func=cmd_derive)

    plates = sub.add_parser("import-plates", help="copy the plate reader's models from rapidocr into the model store")
    plates.add_argument("--to", type=Path, default=None, help="model store dir ($CITYWATCH_MODEL_DIR, else models)")
    plates.set_defaults(func=cmd_import_plates)
    promotion.register(sub)


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


def derive_variant(
    name: str,
    variant: str,
    out_dir: Path,
    model_dirs: list[str],
    calibration: Path | None = None,
    frames: int = 32,
    min_recall: float = 0.95,
) -> ModelEntry:
    """Derive `variant` of the stored model `name` into `out_dir` and record it in
    `out_dir/derived.yaml`; `ModelStoreError` for a missing or corrupt source, `ValueError` for bad
    footage, a bad variant or a variant whose recall vs FP32 is below `min_recall` (not recorded)."""
    # deferred: onnx and the quantisation tools load only when a variant is derived
    from vision.detect.variants import derive

    resolved = resolve_model(name, model_dirs)
    source = resolved.entry or ModelEntry(name=resolved.path.stem, file=resolved.path.name, backend="yolox_onnx")
    if source.backend not in ("auto", "yolox_onnx") or resolved.path.suffix.lower() != ".onnx":
        raise ValueError(f"model {resolved.path}: only YOLOX-style ONNX models have derived variants")
    if calibration is not None and not calibration.is_file():
        raise ValueError(f"calibration video {calibration} not found")
    suffix = {"int8": "int8", "dynamic-batch": "dynamic"}[variant]
    target = out_dir / f"{resolved.path.stem}.{suffix}.onnx"
    class_names = source.class_names or coco_class_names()
    provenance = derive(resolved.path, target, variant, class_names, calibration, frames, size=source.input_size or 416)
    accuracy = provenance.get("accuracy_vs_fp32")
    if isinstance(accuracy, dict) and float(accuracy["recall"]) < min_recall:
        target.unlink(missing_ok=True)
        raise ValueError(
            f"{variant} variant of {resolved.path}: recall {accuracy['recall']} vs FP32 on {calibration} is below "
            f"{min_recall}; not recorded (lower --min-recall to keep it anyway)"
        )
    provenance |= {
        "source_model": source.name,
        "source_file": str(resolved.path),
        "source_sha256": source.sha256 or "",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "tools": {tool: version(tool) for tool in ("onnx", "onnxruntime")},
    }
    return add_model(
        target,
        f"{source.name}-{variant}",
        out_dir / DERIVED_MANIFEST_NAME,
        backend="yolox_onnx",
        label_mapping=source.label_mapping,
        input_size=source.input_size,
        class_names=class_names,
        licence=source.licence,
        source=f"derived ({variant}) from {source.name}, sha256 {source.sha256 or 'unchecked'}",
        provenance=provenance,
    )


def cmd_derive(args: argparse.Namespace) -> int:
    """Derive and record a variant; 3 when the source model or the footage cannot be used or the
    variant fails its accuracy floor (argparse exits 2 on bad arguments, such as an unknown variant)."""
    out_dir = args.out or Path(os.environ.get("CITYWATCH_MODEL_DIR") or "models")
    try:
        entry = derive_variant(
            args.name, args.variant, out_dir, args.model_dir or DEFAULT_DIRS, args.calibration, args.frames,
            args.min_recall,
        )  # fmt: skip
    except (ModelStoreError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    accuracy = entry.provenance.get("accuracy_vs_fp32")
    print(f"derived {entry.name}: {out_dir / entry.file} (sha256 {entry.sha256}) in {out_dir / DERIVED_MANIFEST_NAME}")
    if accuracy:
        print(
            f"vs FP32: recall {accuracy['recall']}, precision {accuracy['precision']}, mean IoU {accuracy['mean_iou']}"
        )
    return 0


def plate_entries() -> list[ModelEntry]:
    """The manifest entries of the plate reader's models (text detector, then recogniser)."""
    entries = [e for e in all_entries().values() if e.backend in PLATE_BACKENDS]
    return sorted(entries, key=lambda e: PLATE_BACKENDS.index(e.backend))


def plate_package_models() -> Path:
    """The `models/` folder inside the installed rapidocr_onnxruntime (found without importing it)."""
    spec = importlib.util.find_spec(PLATE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelStoreError(
            f"{PLATE_PACKAGE} is not installed: `pip install --no-deps {PLATE_PACKAGE}==1.4.4 pyclipper shapely six` "
            "(scripts/install.sh does it)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def import_plate_models(target: Path, package_models: Path | None = None) -> list[Path]:
    """Copy each plate model from RapidOCR's package into `target` (skipping files already there
    and intact), checking both copies against the manifest; returns the stored paths."""
    source_dir = package_models or plate_package_models()
    entries = plate_entries()
    if not entries:
        raise ModelStoreError(f"no {'/'.join(PLATE_BACKENDS)} entries in the model manifests")
    stored = []
    for entry in entries:
        source, destination = source_dir / entry.file, target / entry.file
        if destination.is_file():
            try:
                verify(destination, entry)
            except ModelStoreError:
                pass  # a damaged copy is replaced below
            else:
                stored.append(destination)
                continue
        if not source.is_file():
            raise ModelStoreError(f"plate model {source} not found in the installed {PLATE_PACKAGE}")
        verify(source, entry)
        target.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(destination.name + ".part")
        shutil.copyfile(source, partial)
        partial.replace(destination)
        verify(destination, entry)
        stored.append(destination)
    return stored


def cmd_import_plates(args: argparse.Namespace) -> int:
    """Copy the plate models into the store; 3 when the package or a file cannot be used."""
    target = args.to or Path(os.environ.get("CITYWATCH_MODEL_DIR") or DEFAULT_DIRS[0])
    try:
        stored = import_plate_models(target)
    except (ModelStoreError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    for path in stored:
        print(f"plate model {path} ok")
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
