"""The model store: weight files in a directory, described by a manifest with checksums.

A bare model name is looked up in `$CITYWATCH_MODEL_DIR` (when set), then in the configured
directories. A manifest (`models.yaml`, in the repo's `models/` and optionally beside the weights)
gives each known model its sha256, backend, class names and label mapping; a file whose checksum
does not match is refused with an error naming its path. Nothing is ever downloaded.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO_MANIFEST = Path(__file__).resolve().parents[1] / "models" / "models.yaml"
MANIFEST_NAME = "models.yaml"


class ModelStoreError(Exception):
    """A model that cannot be used: missing, unreadable, corrupt or wrongly described."""


@dataclass(frozen=True)
class ModelEntry:
    """What the manifest says about one model file."""

    name: str
    file: str
    backend: str = "auto"
    sha256: str | None = None
    input_size: int | None = None
    class_names: list[str] = field(default_factory=list)
    label_mapping: dict[str, str] = field(default_factory=dict)
    licence: str = ""
    source: str = ""


@dataclass(frozen=True)
class ResolvedModel:
    """A model file found on disk, checked, with its manifest entry when it has one."""

    path: Path
    entry: ModelEntry | None


def search_dirs(configured: list[str]) -> list[Path]:
    """Where a bare model name is looked for, in order."""
    dirs = []
    env = os.environ.get("CITYWATCH_MODEL_DIR")
    if env:
        dirs.append(Path(env))
    dirs.extend(Path(d) for d in configured)
    return dirs


def read_manifest(path: Path) -> dict[str, ModelEntry]:
    """Entries of one manifest file, keyed by file name; {} when the file does not exist."""
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ModelStoreError(f"model manifest {path} cannot be read: {exc}") from None
    entries = {}
    for raw in data.get("models", []) or []:
        try:
            entry = ModelEntry(**raw)
        except TypeError as exc:
            raise ModelStoreError(f"model manifest {path}: bad entry {raw!r}: {exc}") from None
        entries[entry.file] = entry
    return entries


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def resolve_model(model: str, configured_dirs: list[str]) -> ResolvedModel:
    """Find `model` (a bare name in the store, or a path), verify it, and return it.

    Raises `ModelStoreError` naming every path tried when the file is missing, and the path and
    both checksums when the file does not match its manifest entry.
    """
    candidate = Path(model).expanduser()
    if candidate.parent != Path(".") or candidate.is_absolute():
        tried = [candidate]
    else:
        tried = [d / model for d in search_dirs(configured_dirs)]
    path = next((p for p in tried if p.is_file()), None)
    if path is None:
        where = ", ".join(str(p) for p in tried) or "(no model directory configured)"
        raise ModelStoreError(
            f"model {model!r} not found; looked for {where}. Put the weights file in the model store "
            "($CITYWATCH_MODEL_DIR or detector.model_dirs) or give its path."
        )
    if not os.access(path, os.R_OK):
        raise ModelStoreError(f"model file {path} is not readable")
    manifests = {**read_manifest(REPO_MANIFEST), **read_manifest(Path("models") / MANIFEST_NAME)}
    manifests.update(read_manifest(path.parent / MANIFEST_NAME))
    entry = manifests.get(path.name)
    if entry is not None and entry.sha256:
        actual = sha256_of(path)
        if actual != entry.sha256.lower():
            raise ModelStoreError(
                f"model file {path} is corrupt or not the expected model: sha256 {actual}, "
                f"manifest says {entry.sha256}"
            )
    return ResolvedModel(path=path, entry=entry)
