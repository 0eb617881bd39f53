"""`citywatch plates read IMAGE... [--json]`: the licence plates in still images, offline.

The plate reader's models (`ppocr_det`, `ppocr_rec` in the manifest) come from the model store
($CITYWATCH_MODEL_DIR, then `--model-dir`, default `models`, `../shared/models`), checked against
their sha256; `citywatch models import-plates` puts them there. With `--json`, each image gives one
line: {"image": PATH, "plates": [{"text", "color", "confidence", "box": [x1, y1, x2, y2]}]}, an
empty list when it shows no plate. Exit 3 when a model is missing or corrupt (the message names the
path) or an image cannot be read (the others are still read).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

from citywatch.commands.models import DEFAULT_DIRS, PLATE_BACKENDS, plate_entries
from citywatch.detectors import PROVINCE_BACKEND, SERIAL_BACKEND, plate_classifier
from citywatch.modelstore import DERIVED_MANIFEST_NAME, ModelStoreError, add_model, resolve_model, search_dirs
from vision.plates.reader import OcrPlateReader, PlateModels, PlateResult, ReaderTuning, open_plate_reader

EXIT_OK, EXIT_RUNTIME = 0, 3
PROVINCE_FILE, SERIAL_FILE = "plate_province.onnx", "plate_serial.onnx"
#: What `train-province` and `train-serial` make: (backend, file, manifest name, what it reads).
CLASSIFIERS = {
    "province": (PROVINCE_BACKEND, PROVINCE_FILE, "plate-province", "provinces"),
    "serial": (SERIAL_BACKEND, SERIAL_FILE, "plate-serial", "serial letters and digits"),
}
#: Default training size per kind (samples, epochs): the runs docs/benchmarks.md measured.
TRAINING_SIZE = {"province": (32000, 8), "serial": (64000, 10)}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `plates` subcommand (with `read`) to the CLI's subparsers."""
    parser = subparsers.add_parser("plates", help="read licence plates in images")
    sub = parser.add_subparsers(dest="plates_command", required=True)
    read = sub.add_parser("read", help="print the plates each image shows")
    read.add_argument("images", nargs="+", type=Path, help="image files (JPEG, PNG, ...)")
    read.add_argument("--json", action="store_true", help="one JSON line per image")
    read.add_argument("--model-dir", action="append", default=None, help="model store directory (repeatable)")
    read.add_argument("--threads", type=int, default=1, help="onnxruntime threads per model")
    read.set_defaults(func=cmd_read)
    for kind, (_, _, _, reads) in CLASSIFIERS.items():
        train = sub.add_parser(
            f"train-{kind}",
            help=f"train the classifier of {reads} on rendered plates (offline, CPU, minutes) into the model store",
        )
        train.add_argument("--out-dir", type=Path, default=Path("models"), help="model store directory to write to")
        samples, epochs = TRAINING_SIZE[kind]
        train.add_argument("--samples", type=int, default=samples, help="rendered training windows")
        train.add_argument("--epochs", type=int, default=epochs)
        train.add_argument("--seed", type=int, default=16)
        train.set_defaults(func=cmd_train_classifier, kind=kind)


def plate_models(model_dirs: list[str]) -> PlateModels:
    """The plate reader's model files from the model store, checked; `ModelStoreError` naming the
    path of a missing or corrupt one."""
    try:
        paths = {entry.backend: resolve_model(entry.file, model_dirs).path for entry in plate_entries()}
    except ModelStoreError as exc:
        raise ModelStoreError(f"{exc} (`citywatch models import-plates` puts the plate models there)") from None
    missing = [backend for backend in PLATE_BACKENDS if backend not in paths]
    if missing:
        raise ModelStoreError(f"the model manifests name no {', '.join(missing)} model for plate reading")
    return PlateModels(
        det=paths["ppocr_det"],
        rec=paths["ppocr_rec"],
        province=plate_classifier(model_dirs, PROVINCE_BACKEND),
        serial=plate_classifier(model_dirs, SERIAL_BACKEND),
    )


def province_model(model_dirs: list[str]) -> Path | None:
    """The province classifier `citywatch plates train-province` stored (`plate_classifier`)."""
    return plate_classifier(model_dirs, PROVINCE_BACKEND)


def open_reader(
    model_dirs: list[str] | None = None, threads: int = 1, tuning: ReaderTuning | None = None
) -> OcrPlateReader:
    """A plate reader on the stored models; `ModelStoreError` when a model is missing, corrupt or
    cannot be loaded (the message names its path)."""
    models = plate_models(model_dirs or DEFAULT_DIRS)
    try:
        return open_plate_reader(models, threads=threads, tuning=tuning)
    except ValueError as exc:
        raise ModelStoreError(str(exc)) from None


def read_image(path: Path) -> np.ndarray:
    """The image as BGR; `ValueError` naming the path when it is missing or not an image."""
    try:
        data = np.fromfile(path, np.uint8)
    except OSError as exc:
        raise ValueError(f"image {path} cannot be read: {exc.strerror or exc}") from None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise ValueError(f"image {path} cannot be read: not an image file")
    return image


def plate_json(result: PlateResult) -> dict:
    """A reading as the JSON line writes it (the box as a list)."""
    return asdict(result) | {"box": list(result.box)}


def cmd_read(args: argparse.Namespace) -> int:
    """Read every image; 3 when the models cannot be used or any image cannot be read."""
    try:
        reader = open_reader(args.model_dir, args.threads)
    except ModelStoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    missing = [what for what in ("province", "serial") if getattr(reader.recognizer, what) is None]
    if missing:
        print(
            f"note: no {' or '.join(missing)} classifier in the model store: plates under ~140 px are read "
            "less reliably (`make plates-model` trains them offline, docs/plates.md)",
            file=sys.stderr,
        )
    status = EXIT_OK
    for path in args.images:
        try:
            results = reader.read(read_image(path))
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = EXIT_RUNTIME
            continue
        if args.json:
            line = {"image": str(path), "plates": [plate_json(r) for r in results]}
            print(json.dumps(line, ensure_ascii=False), flush=True)
        elif not results:
            print(f"{path}: no plate")
        for result in [] if args.json else results:
            x1, y1, x2, y2 = result.box
            print(f"{path}: {result.text} {result.color} {result.confidence:.2f} [{x1}, {y1}, {x2}, {y2}]")
    return status


def cmd_train_classifier(args: argparse.Namespace) -> int:
    """Train the classifier of `args.kind`, store it with its checksum in `--out-dir`/derived.yaml;
    3 on failure."""
    # deferred: the training code (and torch) loads only for this command
    from vision.plates.province_training import train
    from vision.plates.render import footage_frames

    out_dir, (backend, file, name, reads) = args.out_dir, CLASSIFIERS[args.kind]
    backgrounds = footage_frames()  # empty without the shared footage: plain backgrounds then
    progress = lambda s: print(s, flush=True)  # noqa: E731
    try:
        result = train(out_dir / file, args.samples, args.epochs, args.seed, backgrounds, progress, kind=args.kind)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    entry = add_model(
        result.path,
        name=name,
        manifest=out_dir / DERIVED_MANIFEST_NAME,
        backend=backend,
        licence="trained here on rendered plates (the project's own)",
        source=f"citywatch plates train-{args.kind}",
        provenance={
            "fonts": result.fonts,
            "heldout_font": result.heldout_font,
            "heldout_accuracy": result.heldout_accuracy,
            "samples": result.samples,
            "epochs": result.epochs,
            "seed": args.seed,
        },
    )
    searched = [str(d) for d in search_dirs(DEFAULT_DIRS)]
    print(f"stored {entry.file} (sha256 {entry.sha256}) in {out_dir / DERIVED_MANIFEST_NAME}")
    print(f"held-out font {result.heldout_font}: {100 * result.heldout_accuracy:.1f} % of {reads} right")
    if out_dir.resolve() not in [Path(d).resolve() for d in searched]:
        print(f"note: {out_dir} is not a default model directory ({', '.join(searched)}); pass --model-dir")
    return EXIT_OK
