"""Promoting a model for some cameras, rules or labels, only when it is not worse; rolling it back.

The record is the append-only `promotions.jsonl` of the writable model store directory
($CITYWATCH_MODEL_DIR, else the first `detector.model_dirs`), beside the weights it names: a file
rather than a database table because the runtime loads models from the store before (and without)
opening the database, the cluster's worker processes read it the same way, and it travels with the
model files it points at. Each line: action (promote | rollback), model, cameras, labels, rules,
previous, figures, by, at. `citywatch.detectors` folds it into scoped detectors at load time.

Example:
    >>> promote(config, "litter-v1", Scope(cameras=["campus-road"]), Path("data/ds"))  # doctest: +SKIP
    {'action': 'promote', 'model': 'litter-v1', 'cameras': ['campus-road'], 'labels': ['litter'], ...}
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from citywatch.config import CitywatchConfig, DetectorConfig
from citywatch.detectors import PROMOTIONS_NAME, active_promotions, model_spec, read_promotions
from citywatch.learning.dataset import dataset_names
from citywatch.learning.evaluation import Figures, not_worse, score_model
from citywatch.modelstore import search_dirs
from vision.labels import expand_labels


class PromotionError(Exception):
    """A promotion or rollback that cannot be made: unknown camera, rule, label or model, nothing to roll back."""


class PromotionRefused(Exception):
    """The candidate is worse than the current model on the evaluation; `figures` says how."""

    def __init__(self, message: str, figures: dict[str, Any]):
        super().__init__(message)
        self.figures = figures


@dataclass(frozen=True)
class Scope:
    """What a promotion covers, as asked: cameras, rules, labels (any may be empty)."""

    cameras: Sequence[str] = field(default=())
    rules: Sequence[str] = field(default=())
    labels: Sequence[str] = field(default=())


def store_dir(config: CitywatchConfig) -> Path:
    """The writable model store directory, where the promotion log lives."""
    env = os.environ.get("CITYWATCH_MODEL_DIR")
    return Path(env) if env else Path(config.detector.model_dirs[0])


def model_labels_of(config: CitywatchConfig, model: str) -> frozenset[str]:
    """The Citywatch labels `model` gives (from the store, checked)."""
    spec = model_spec(
        DetectorConfig(model=model, model_dirs=config.detector.model_dirs, manifest=config.detector.manifest)
    )
    return frozenset(spec.label_mapping.values())


def resolve_scope(config: CitywatchConfig, scope: Scope, produced: frozenset[str]) -> tuple[list[str], list[str]]:
    """(cameras, labels) of a scope: the given cameras plus those of the given rules ([]: every
    camera), the given labels plus the rules' ([]: every label the model gives), kept to `produced`."""
    if not (scope.cameras or scope.rules or scope.labels):
        raise PromotionError("say where to promote: --cameras, --rules or --labels")
    known = {camera.id: camera for camera in config.cameras}
    unknown = sorted(set(scope.cameras) - set(known))
    if unknown:
        raise PromotionError(f"unknown camera(s) {', '.join(unknown)}; the config has {', '.join(known)}")
    cameras, labels = set(scope.cameras), set(scope.labels)
    for rule_id in scope.rules:
        owners = [(camera.id, rule) for camera in config.cameras for rule in camera.rules if rule.id == rule_id]
        if not owners:
            raise PromotionError(f"no camera has a rule {rule_id!r}")
        for camera_id, rule in owners:
            cameras.add(camera_id)
            watched = expand_labels(tuple(rule.labels))
            if not watched & produced:
                raise PromotionError(
                    f"rule {rule_id!r} watches {', '.join(sorted(watched))}; the model gives none of them"
                )
            labels |= watched & produced
    labels = labels or set(produced)
    if not labels <= produced:
        raise PromotionError(
            f"the model gives {', '.join(sorted(produced)) or 'nothing'}, not {', '.join(sorted(labels - produced))}"
        )
    return sorted(cameras), sorted(labels)


def current_model(config: CitywatchConfig, cameras: Sequence[str], labels: Sequence[str]) -> str | None:
    """The model serving `labels` on `cameras` now: the one promoted for this scope, else the last
    configured detector giving any of them, else None."""
    active = active_promotions(read_promotions(log_paths(config)))
    stack = active.get((tuple(sorted(cameras)), tuple(sorted(labels))))
    if stack:
        return stack[-1]
    current = None
    for detector in (config.detector, *config.detectors):
        if frozenset(model_spec(detector).label_mapping.values()) & set(labels):
            current = detector.model
    return current


def log_paths(config: CitywatchConfig) -> list[Path]:
    """The promotion logs the runtime reads (one per model store directory)."""
    return [directory / PROMOTIONS_NAME for directory in search_dirs(config.detector.model_dirs)]


def append(config: CitywatchConfig, record: dict[str, Any]) -> dict[str, Any]:
    """Append one record to the writable store's promotion log (fsync'd); returns it."""
    path = store_dir(config) / PROMOTIONS_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {**record, "at": datetime.now(UTC).isoformat(timespec="seconds")}
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return record


def evaluate_pair(
    config: CitywatchConfig, candidate: str, current: str | None, data: Path, confidence: float | None = None
) -> tuple[Figures, Figures | None]:
    """Figures of the candidate and of the current model (None when there is none) on the val
    split, at the runtime's confidence threshold (`detector.confidence`) unless `confidence` is given."""
    dirs, threshold = config.detector.model_dirs, confidence or config.detector.confidence
    mine = score_model(candidate, data, dirs, confidence=threshold)
    theirs = score_model(current, data, dirs, confidence=threshold) if current else None
    return mine, theirs


def promote(
    config: CitywatchConfig,
    candidate: str,
    scope: Scope,
    data: Path | None,
    tolerance: float = 0.0,
    force: bool = False,
    by: str = "",
    confidence: float | None = None,
) -> dict[str, Any]:
    """Make `candidate` the model of the scope when it is not worse than the current one on the
    val split of `data` (`PromotionRefused` with both models' figures otherwise; `force` skips the
    evaluation). The scope keeps only the labels the dataset has (those the figures speak for).
    Returns the record appended."""
    cameras, labels = resolve_scope(config, scope, model_labels_of(config, candidate))
    if not force:
        if data is None:
            raise PromotionError("give --data (an exported dataset) to evaluate on, or --force")
        evaluated = dataset_names(data)
        if not set(labels) & set(evaluated):
            raise PromotionError(f"the dataset {data} has none of {', '.join(labels)}: nothing to evaluate them on")
        labels = [label for label in labels if label in evaluated]  # only what the evaluation vouches for
    previous = current_model(config, cameras, labels)
    figures: dict[str, Any] = {}
    if not force and data is not None:
        mine, theirs = evaluate_pair(config, candidate, previous, data, confidence)
        figures = {"candidate": mine.as_dict(), "current": theirs.as_dict() if theirs else None}
        ok, reasons = not_worse(mine, theirs or Figures("(none)", mine.images, 0, 0, mine.tp + mine.fn), tolerance)
        if not ok:
            raise PromotionRefused(f"{candidate} is worse than {previous or 'nothing'}: " + "; ".join(reasons), figures)
    record = {
        "action": "promote", "model": candidate, "cameras": cameras, "labels": labels, "rules": list(scope.rules),
        "previous": previous, "figures": figures, "forced": force, "data": str(data) if data else None, "by": by,
        "confidence": confidence or config.detector.confidence,  # the runtime runs it at the threshold it passed at
    }  # fmt: skip
    return append(config, record)


def rollback(config: CitywatchConfig, scope: Scope, model: str | None = None, by: str = "") -> dict[str, Any]:
    """Undo the last promotion of the scope (of `model`, when named): the promotion on the scope's
    cameras whose labels are among the scope's (with no labels asked for: those of `model`, or
    every promoted one); the previous model serves them again. `PromotionError` when nothing is
    promoted there, or several promotions match and no label picks one."""
    produced = model_labels_of(config, model) if model else frozenset().union(*_promoted_labels(config))
    cameras, labels = resolve_scope(config, scope, produced)
    active = active_promotions(read_promotions(log_paths(config)))
    matching = [
        key for key, stack in active.items()
        if key[0] == tuple(cameras) and set(key[1]) <= set(labels) and (model is None or stack[-1] == model)
    ]  # fmt: skip
    exact = [key for key in matching if key[1] == tuple(labels)]
    if not matching or (len(matching) > 1 and not exact):
        where = f"cameras {', '.join(cameras) or 'all'}, labels {', '.join(labels)}"
        which = f"of {model} " if model else ""
        if matching:
            raise PromotionError(f"several promotions {which}match {where}; name the --labels of one")
        raise PromotionError(f"nothing {which}is promoted for {where}")
    key = exact[0] if exact else matching[0]
    stack = active[key]
    cameras, labels = list(key[0]), list(key[1])
    restored = stack[-2] if len(stack) > 1 else None
    record = {
        "action": "rollback", "model": stack[-1], "cameras": cameras, "labels": labels, "rules": list(scope.rules),
        "previous": restored, "by": by,
    }  # fmt: skip
    return append(config, record)


def _promoted_labels(config: CitywatchConfig) -> list[frozenset[str]]:
    records = read_promotions(log_paths(config))
    return [frozenset(labels) for (_cams, labels) in active_promotions(records)] or [frozenset()]


def promotions(config: CitywatchConfig) -> list[dict[str, Any]]:
    """The active promotions: scope, model, and the models beneath it (oldest first)."""
    active = active_promotions(read_promotions(log_paths(config)))
    return [
        {"cameras": list(cams), "labels": list(labels), "model": stack[-1], "beneath": stack[:-1]}
        for (cams, labels), stack in active.items()
    ]
