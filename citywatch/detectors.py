"""Detectors of a config: each model found and checked in the model store, then opened.

`load_detector(config)` resolves `config.model` in the model store (`citywatch.modelstore`: search
directories, manifests, sha256), decides the backend (the config's, else the manifest's, else by
file suffix) and opens it with `vision.detect.open_detector`. `load_detector_set` does this for
the `detector:` model and every `detectors:` entry and puts each behind its batching queue.
`load_plate_reader` opens the plate reader of the `plates:` section the same way.
Models promoted for some cameras or labels (`citywatch models promote`, recorded in the
`promotions.jsonl` of a model store directory) join the set as scoped detectors (`Scope`): they
run only there, taking those labels over; every other camera keeps its models.
`unproduced_labels` finds the rules that wait for labels none of those models produces (they would
never fire): a config error, found here because only the models know their labels.

Example:
    >>> detectors = load_detector_set(config.detector, config.detectors)  # doctest: +SKIP
    >>> detectors.detect("cam-1", frame.image, labels=["vehicle"])  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from citywatch.config import CitywatchConfig, DetectorConfig
from citywatch.modelstore import (
    ModelStoreError,
    all_entries,
    coco_class_names,
    derived_manifests,
    resolve_model,
    search_dirs,
)
from vision.detect import Detector, DetectorError, DetectorSet, ModelSpec, open_detector
from vision.detect.detector_set import Scope
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


#: The promotion log of a model store directory: one JSON object a line, appended, never rewritten.
PROMOTIONS_NAME = "promotions.jsonl"
ScopeKey = tuple[tuple[str, ...], tuple[str, ...]]


def read_promotions(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Every record of the promotion logs at `paths` (missing files: none), in order;
    `DetectorError` naming the file and line of a damaged record."""
    records = []
    seen: set[Path] = set()
    for path in paths:
        if not path.is_file() or path.resolve() in seen:  # a directory named twice is read once
            continue
        seen.add(path.resolve())
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                (record["action"], record["model"], record["cameras"], record["labels"])
            except (ValueError, KeyError, TypeError) as exc:
                raise DetectorError(f"promotion log {path}, line {number}: not a promotion record ({exc})") from None
            records.append(record)
    return records


def active_promotions(records: Iterable[Mapping[str, Any]]) -> dict[ScopeKey, list[str]]:
    """Per scope (cameras, labels; sorted), the stack of models promoted there, the active one last:
    a `promote` pushes its model, a `rollback` pops one. Scopes changed last come last."""
    stacks: dict[ScopeKey, list[str]] = {}
    for record in records:
        key = (tuple(sorted(record["cameras"])), tuple(sorted(record["labels"])))
        stack = stacks.pop(key, [])
        if record["action"] == "promote":
            stack.append(str(record["model"]))
        elif record["action"] == "rollback" and stack:
            stack.pop()
        stacks[key] = stack
    return {key: stack for key, stack in stacks.items() if stack}


def promoted_detectors(primary: DetectorConfig) -> list[DetectorConfig]:
    """The promoted models of the model store directories as scoped `detectors:` entries, each at
    the score threshold it was evaluated at (the primary's when its record names none)."""
    paths = [directory / PROMOTIONS_NAME for directory in search_dirs(primary.model_dirs)]
    records = read_promotions(paths)
    thresholds = {
        (tuple(sorted(r["cameras"])), tuple(sorted(r["labels"])), r["model"]): r.get("confidence")
        for r in records
        if r["action"] == "promote"
    }
    out = []
    for n, ((cams, labels), stack) in enumerate(active_promotions(records).items(), 1):
        threshold = thresholds.get((cams, labels, stack[-1])) or primary.confidence
        update = {"model": stack[-1], "name": f"{stack[-1]}@promoted{n}", "backend": "auto", "confidence": threshold}
        out.append(primary.model_copy(update=update | {"cameras": list(cams), "serves": list(labels)}))
    return out


def scope_of(config: DetectorConfig) -> Scope | None:
    """Where a detector runs when its config (or its promotion) limits it: its cameras and the
    labels it serves there; None when it runs everywhere."""
    if not (config.cameras or config.serves):
        return None
    return Scope(
        cameras=frozenset(config.cameras) if config.cameras else None,
        serves=frozenset(config.serves) if config.serves else None,
    )


def load_detector_set(
    primary: DetectorConfig,
    extra: Sequence[DetectorConfig] = (),
    max_batch: int | None = None,
    promotions: bool = True,
) -> DetectorSet:
    """The `detector:` model plus the `detectors:` list, then the promoted models (unless
    `promotions` is false), each loaded from the store and batched, with their scopes.

    Batch size and deadline come from `primary` unless `max_batch` is given.
    """
    detectors: dict[str, Detector] = {}
    scopes: dict[str, Scope] = {}
    for config in (primary, *extra, *(promoted_detectors(primary) if promotions else [])):
        det = load_detector(config)
        if det.name in detectors:
            raise DetectorError(f"two detectors are named {det.name!r}; give one a `name:`")
        detectors[det.name] = det
        if (scope := scope_of(config)) is not None:
            scopes[det.name] = scope
    return DetectorSet(
        detectors,
        max_batch=max_batch or primary.batch_size,
        max_wait_s=primary.batch_wait_ms / 1000.0,
        workers=primary.workers(),
        scopes=scopes,
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


#: Model store backends of the plate reader's optional character classifiers (trained here).
PROVINCE_BACKEND, SERIAL_BACKEND = "plate_province", "plate_serial"


def plate_classifier(model_dirs: Sequence[str], backend: str) -> Path | None:
    """The character classifier of `backend` that `citywatch plates train-province` or
    `train-serial` stored (derived manifests), checked; None when the store has none (the
    recogniser alone then reads those characters); `ModelStoreError` naming the path when its
    file is missing or corrupt."""
    entries = all_entries(derived_manifests(list(model_dirs)))
    names = [e.file for e in entries.values() if e.backend == backend]
    return resolve_model(names[0], list(model_dirs)).path if names else None


def load_plate_reader(config: CitywatchConfig) -> PlateReader:
    """The plate reader on the `plates:` section's models, found and checked in the model store
    (the detector's directories); `DetectorError` names the path of a missing or corrupt one."""
    dirs = config.detector.model_dirs
    try:
        models = PlateModels(
            det=resolve_model(config.plates.detector_model, dirs).path,
            rec=resolve_model(config.plates.recognizer_model, dirs).path,
            province=plate_classifier(dirs, PROVINCE_BACKEND),
            serial=plate_classifier(dirs, SERIAL_BACKEND),
        )
        return open_plate_reader(models)
    except (ModelStoreError, ValueError) as exc:
        raise DetectorError(f"plate reader: {exc}") from None
