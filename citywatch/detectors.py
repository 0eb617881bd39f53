"""Detectors of a config: each model found and checked in the model store, then opened.

`load_detector(config)` resolves `config.model` in the model store (`citywatch.modelstore`: search
directories, manifests, sha256), decides the backend (the config's, else the manifest's, else by
file suffix) and opens it with `vision.detect.open_detector`. `load_detector_set` does this for
the `detector:` model and every `detectors:` entry and puts each behind its batching queue.
`load_plate_reader` opens the plate reader of the `plates:` section the same way.
`unproduced_labels` finds the rules that wait for labels none of those models produces (they would
never fire): a config error, found here because only the models know their labels.

Example:
    >>> detectors = load_detector_set(config.detector, config.detectors)  # doctest: +SKIP
    >>> detectors.detect("cam-1", frame.image, labels=["vehicle"])  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from citywatch.config import CitywatchConfig, DetectorConfig
from citywatch.modelstore import ModelStoreError, coco_class_names, resolve_model
from vision.detect import Detector, DetectorError, DetectorSet, ModelSpec, open_detector
from vision.labels import COCO_MAPPING, expand_labels
from vision.plates.reader import PlateModels, PlateReader, open_plate_reader


def pick_backend(configured: str, suffix: str, manifest_backend: str | None) -> str:
    """The backend of a model: the config's unless 'auto', else the manifest's unless 'auto',
    else onnxruntime for `.onnx` files and ultralytics for the rest."""
    if configured != "auto":
        return configured
    if manifest_backend and manifest_backend != "auto":
        return manifest_backend
    return "yolox_onnx" if suffix == ".onnx" else "ultralytics"


def model_spec(config: DetectorConfig) -> ModelSpec:
    """Find and check the configured model; `DetectorError` names the paths tried or the checksums."""
    manifests = [Path(config.manifest)] if config.manifest else []
    try:
        resolved = resolve_model(config.model, config.model_dirs, manifests)
        entry = resolved.entry
        backend = pick_backend(config.backend, resolved.path.suffix.lower(), entry.backend if entry else None)
        class_names = list(entry.class_names) if entry and entry.class_names else []
        if not class_names and backend == "yolox_onnx":
            class_names = coco_class_names()  # a YOLOX export without an entry: COCO, like the bundled one
    except ModelStoreError as exc:
        raise DetectorError(str(exc)) from None
    return ModelSpec(
        path=resolved.path,
        name=config.name or (entry.name if entry else resolved.path.name),
        backend=backend,
        class_names=tuple(class_names),
        label_mapping=dict(entry.label_mapping) if entry and entry.label_mapping else dict(COCO_MAPPING),
        input_size=entry.input_size if entry else None,
    )


def load_detector(config: DetectorConfig) -> Detector:
    """Resolve the configured model in the store and open it; `DetectorError` names the path."""
    return open_detector(model_spec(config), config)


def load_detector_set(
    primary: DetectorConfig, extra: Sequence[DetectorConfig] = (), max_batch: int | None = None
) -> DetectorSet:
    """The `detector:` model plus the `detectors:` list, each loaded from the store and batched.

    Batch size and deadline come from `primary` unless `max_batch` is given.
    """
    detectors: dict[str, Detector] = {}
    for config in (primary, *extra):
        det = load_detector(config)
        if det.name in detectors:
            raise DetectorError(f"two detectors are named {det.name!r}; give one a `name:`")
        detectors[det.name] = det
    return DetectorSet(
        detectors,
        max_batch=max_batch or primary.batch_size,
        max_wait_s=primary.batch_wait_ms / 1000.0,
        workers=primary.workers(),
    )


def model_labels(config: CitywatchConfig) -> dict[str, frozenset[str]]:
    """The Citywatch labels each configured model can produce, by model name, from the model store
    (found and checked, not opened); `DetectorError` as `model_spec`."""
    specs = [model_spec(detector) for detector in (config.detector, *config.detectors)]
    return {spec.name: frozenset(spec.label_mapping.values()) for spec in specs}


def unproduced_labels(
    config: CitywatchConfig, produced: Mapping[str, frozenset[str]]
) -> list[tuple[tuple[Any, ...], str]]:
    """(field path, message) of every rule that needs the detector (parking rules; litter and
    waterlogging with `source: detector`) while no model in `produced` (name -> labels) gives any
    of its labels. `source: both` still has its baseline, so it is never refused."""
    every = frozenset().union(*produced.values()) if produced else frozenset()
    models = ", ".join(f"{name} ({', '.join(sorted(labels)) or 'nothing'})" for name, labels in produced.items())
    problems: list[tuple[tuple[Any, ...], str]] = []
    for c, camera in enumerate(config.cameras):
        for r, rule in enumerate(camera.rules):
            if getattr(rule, "source", "detector") != "detector":
                continue
            wanted = expand_labels(tuple(rule.labels))
            if not wanted & every:
                message = f"no configured model produces {', '.join(sorted(wanted))}; the models give: {models}"
                problems.append((("cameras", c, "rules", r, "labels"), message))
    return problems


def wants_plates(config: CitywatchConfig) -> bool:
    """Whether any enabled camera has a rule with `plates: true` (only then is a reader loaded)."""
    return any(
        camera.enabled and any(getattr(rule, "plates", False) for rule in camera.rules) for camera in config.cameras
    )


def load_plate_reader(config: CitywatchConfig) -> PlateReader:
    """The plate reader on the `plates:` section's models, found and checked in the model store
    (the detector's directories); `DetectorError` names the path of a missing or corrupt one."""
    dirs = config.detector.model_dirs
    try:
        models = PlateModels(
            det=resolve_model(config.plates.detector_model, dirs).path,
            rec=resolve_model(config.plates.recognizer_model, dirs).path,
        )
        return open_plate_reader(models)
    except (ModelStoreError, ValueError) as exc:
        raise DetectorError(f"plate reader: {exc}") from None
