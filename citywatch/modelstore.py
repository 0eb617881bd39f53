"""The model store: weight files in a directory, described by a manifest with checksums.

A bare model name is looked up in `$CITYWATCH_MODEL_DIR` (when set), then in the configured
directories (which may be read-only). A manifest (`models.yaml`, in the repo's `models/` and
optionally beside the weights or in an operator's file) gives each known model its sha256, backend,
input size, class names, label mapping, licence and source. A file whose checksum does not match is
refused with an error naming its path. Nothing is ever downloaded. Variants derived from a stored
model (`citywatch models derive`) are described in `derived.yaml` beside them, read from every store
directory.

Verified checksums are cached by (path, size, mtime), in memory and in a small JSON file in the user
cache, so that restarting a camera (or the process) does not hash the weights again.

Example:
    >>> resolved = resolve_model("yolox_nano.onnx", ["../shared/models"])  # doctest: +SKIP
    >>> resolved.entry.backend  # doctest: +SKIP
    'yolox_onnx'
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

MANIFEST_NAME = "models.yaml"
#: The manifest `citywatch models derive` writes beside the variants it derives (INT8, dynamic batch):
#: read from every model store directory, so that derived files are found and checked like others.
DERIVED_MANIFEST_NAME = "derived.yaml"


def shipped_manifest(package_dir: Path | None = None, prefix: Path | None = None) -> Path:
    """The manifest that comes with Citywatch: the checkout's `models/models.yaml` beside the
    `citywatch` package, or, installed from a wheel (no checkout), the copy the wheel installs in
    `<prefix>/share/citywatch/` (`[tool.setuptools.data-files]`)."""
    package_dir = package_dir or Path(__file__).resolve().parent
    checkout = package_dir.parent / "models" / MANIFEST_NAME
    if checkout.is_file():
        return checkout
    return (prefix or Path(sys.prefix)) / "share" / "citywatch" / MANIFEST_NAME


REPO_MANIFEST = shipped_manifest()
#: Backends a manifest entry may name ("auto": by file suffix; "ppocr_det", "ppocr_rec": the plate
#: reader's text detector and recogniser, vision.plates.reader).
BACKENDS = ("auto", "yolox_onnx", "ultralytics", "ppocr_det", "ppocr_rec", "plate_province", "plate_serial")


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
    #: For derived variants: source model and its sha256, variant, calibration footage, accuracy vs FP32.
    provenance: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ResolvedModel:
    """A model file found on disk, checked, with its manifest entry when it has one."""

    path: Path
    entry: ModelEntry | None


@dataclass(frozen=True)
class ModelStatus:
    """One manifest entry and the state of its file: `ok`, `missing`, `corrupt` or `unchecked`."""

    entry: ModelEntry
    path: Path | None
    state: str
    detail: str = ""


def search_dirs(configured: Iterable[str]) -> list[Path]:
    """Where a bare model name is looked for, in order."""
    dirs = []
    env = os.environ.get("CITYWATCH_MODEL_DIR")
    if env:
        dirs.append(Path(env))
    dirs.extend(Path(d) for d in configured)
    return dirs


def _entry_from(raw: object, path: Path) -> ModelEntry:
    if not isinstance(raw, dict):
        raise ModelStoreError(f"model manifest {path}: entry {raw!r} is not a mapping")
    try:
        entry = ModelEntry(**raw)
    except TypeError as exc:
        raise ModelStoreError(f"model manifest {path}: bad entry {raw!r}: {exc}") from None
    if entry.backend not in BACKENDS:
        raise ModelStoreError(
            f"model manifest {path}: model {entry.name!r} names unknown backend {entry.backend!r}; "
            f"known: {', '.join(BACKENDS)}"
        )
    if entry.sha256 is not None and (len(entry.sha256) != 64 or not _is_hex(entry.sha256)):
        raise ModelStoreError(f"model manifest {path}: model {entry.name!r} has a malformed sha256 {entry.sha256!r}")
    if not isinstance(entry.label_mapping, dict) or not isinstance(entry.class_names, list):
        raise ModelStoreError(
            f"model manifest {path}: model {entry.name!r}: label_mapping must be a mapping and class_names a list"
        )
    return entry


def _is_hex(text: str) -> bool:
    try:
        int(text, 16)
    except ValueError:
        return False
    return True


def read_manifest(path: Path) -> dict[str, ModelEntry]:
    """Entries of one manifest file, keyed by file name; {} when the file does not exist."""
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ModelStoreError(f"model manifest {path} cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise ModelStoreError(f"model manifest {path}: expected a mapping with a 'models' list")
    entries = {}
    for raw in data.get("models", []) or []:
        entry = _entry_from(raw, path)
        entries[entry.file] = entry
    return entries


def manifest_paths(extra: Iterable[Path] = ()) -> list[Path]:
    """Manifests consulted, lowest priority first: the repo's, `./models/models.yaml`,
    `$CITYWATCH_MODEL_MANIFEST`, then any given."""
    paths = [REPO_MANIFEST, Path("models") / MANIFEST_NAME]
    env = os.environ.get("CITYWATCH_MODEL_MANIFEST")
    if env:
        paths.append(Path(env))
    paths.extend(Path(p) for p in extra)
    unique: list[Path] = []
    for p in paths:
        if p.resolve() not in [u.resolve() for u in unique]:
            unique.append(p)
    return unique


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class ChecksumCache:
    """sha256 of files keyed by (absolute path, size, mtime_ns): a changed file is hashed again.

    Kept in memory and, when `store` is given and writable, in a JSON file so that a restart does
    not re-hash. `hashed` counts the real hash computations (for tests and logs).
    """

    def __init__(self, store: Path | None = None):
        self.store = store
        self.hashed = 0
        self._lock = threading.Lock()
        self._memory: dict[str, str] = {}
        if store is not None:
            try:
                loaded = json.loads(store.read_text(encoding="utf-8"))
                if isinstance(loaded, dict):
                    self._memory.update({str(k): str(v) for k, v in loaded.items()})
            except (OSError, ValueError):
                pass

    @staticmethod
    def _key(path: Path) -> str:
        stat = path.stat()
        return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"

    def sha256(self, path: Path) -> str:
        """The file's sha256, from the cache when (path, size, mtime) are unchanged."""
        key = self._key(path)
        with self._lock:
            cached = self._memory.get(key)
        if cached is not None:
            return cached
        digest = sha256_of(path)
        with self._lock:
            self.hashed += 1
            self._memory[key] = digest
            self._save()
        return digest

    def _save(self) -> None:
        if self.store is None:
            return
        try:
            self.store.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.store.with_suffix(".tmp")
            tmp.write_text(json.dumps(self._memory, indent=0, sort_keys=True), encoding="utf-8")
            tmp.replace(self.store)
        except OSError:
            pass  # a read-only cache only costs a re-hash next time


def _default_cache_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "citywatch" / "model-sha256.json"


CHECKSUMS = ChecksumCache(_default_cache_file())


def verify(path: Path, entry: ModelEntry | None, cache: ChecksumCache | None = None) -> None:
    """Raise `ModelStoreError` naming the path when the file's sha256 differs from the entry's."""
    if entry is None or not entry.sha256:
        return
    actual = (cache or CHECKSUMS).sha256(path)
    if actual != entry.sha256.lower():
        raise ModelStoreError(
            f"model file {path} is corrupt or not the expected model {entry.name!r}: sha256 {actual}, "
            f"manifest says {entry.sha256}"
        )


def derived_manifests(configured_dirs: Iterable[str]) -> list[Path]:
    """The derived-variant manifests of the model store directories (those that exist)."""
    return [p for p in (d / DERIVED_MANIFEST_NAME for d in search_dirs(configured_dirs)) if p.is_file()]


def all_entries(manifests: Iterable[Path] = ()) -> dict[str, ModelEntry]:
    """Every entry of every consulted manifest, keyed by file name (later manifests win)."""
    merged: dict[str, ModelEntry] = {}
    for path in manifest_paths(manifests):
        merged.update(read_manifest(path))
    return merged


def resolve_model(
    model: str, configured_dirs: list[str], manifests: Iterable[Path] = (), cache: ChecksumCache | None = None
) -> ResolvedModel:
    """Find `model` (a manifest name, a bare file name in the store, or a path), verify it, return it.

    Raises `ModelStoreError` naming every path tried when the file is missing, and the path and
    both checksums when the file does not match its manifest entry.
    """
    entries = all_entries([*derived_manifests(configured_dirs)[::-1], *manifests])
    by_name = {e.name: e for e in entries.values()}
    file_name = by_name[model].file if model in by_name and model not in entries else model
    candidate = Path(file_name).expanduser()
    if candidate.parent != Path(".") or candidate.is_absolute():
        tried = [candidate]
    else:
        tried = [d / file_name for d in search_dirs(configured_dirs)]
    path = next((p for p in tried if p.is_file()), None)
    if path is None:
        where = ", ".join(str(p) for p in tried) or "(no model directory configured)"
        raise ModelStoreError(
            f"model {model!r} not found; looked for {where}. Put the weights file in the model store "
            "($CITYWATCH_MODEL_DIR or detector.model_dirs) or give its path."
        )
    if not os.access(path, os.R_OK):
        raise ModelStoreError(f"model file {path} is not readable")
    local = read_manifest(path.parent / MANIFEST_NAME) | read_manifest(path.parent / DERIVED_MANIFEST_NAME)
    entry = local.get(path.name) or entries.get(path.name)
    verify(path, entry, cache)
    return ResolvedModel(path=path, entry=entry)


def coco_class_names() -> list[str]:
    """COCO's class names in YOLOX's output order, from the repo manifest's bundled YOLOX entry."""
    entry = read_manifest(REPO_MANIFEST).get("yolox_nano.onnx")
    if entry is None or not entry.class_names:
        raise ModelStoreError(f"no class names for the YOLOX model: {REPO_MANIFEST} lacks its entry")
    return list(entry.class_names)


def model_status(
    configured_dirs: list[str], manifests: Iterable[Path] = (), cache: ChecksumCache | None = None
) -> list[ModelStatus]:
    """Each known model and whether its file is present and matches its checksum."""
    out = []
    dirs = search_dirs(configured_dirs)
    for entry in all_entries([*derived_manifests(configured_dirs)[::-1], *manifests]).values():
        candidates = [Path(entry.file)] if Path(entry.file).is_absolute() else [d / entry.file for d in dirs]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            out.append(ModelStatus(entry, None, "missing", "looked for " + ", ".join(map(str, candidates))))
            continue
        try:
            verify(path, entry, cache)
        except ModelStoreError as exc:
            out.append(ModelStatus(entry, path, "corrupt", str(exc)))
            continue
        except OSError as exc:
            out.append(ModelStatus(entry, path, "missing", f"cannot read: {exc}"))
            continue
        out.append(ModelStatus(entry, path, "ok" if entry.sha256 else "unchecked"))
    return out


def add_model(
    file: Path,
    name: str,
    manifest: Path,
    backend: str = "auto",
    label_mapping: dict[str, str] | None = None,
    input_size: int | None = None,
    class_names: list[str] | None = None,
    licence: str = "",
    source: str = "",
    provenance: dict[str, Any] | None = None,
) -> ModelEntry:
    """Describe a weights file in `manifest` (created if absent), with its sha256; returns the entry.

    An entry with the same file name or model name is replaced. Class names of ultralytics models
    are read from the file when not given; the file itself is never copied or changed.
    """
    file = Path(file)
    if not file.is_file():
        raise ModelStoreError(f"model file {file} not found")
    if backend not in BACKENDS:
        raise ModelStoreError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
    entry = ModelEntry(
        name=name,
        file=file.name,
        backend=backend,
        sha256=CHECKSUMS.sha256(file),
        input_size=input_size,
        class_names=list(class_names or []),
        label_mapping=dict(label_mapping or {}),
        licence=licence,
        source=source or str(file),
        provenance=dict(provenance or {}),
    )
    manifest = Path(manifest)
    data: dict = {"models": []}
    if manifest.is_file():
        try:
            data = yaml.safe_load(manifest.read_text(encoding="utf-8")) or {"models": []}
        except yaml.YAMLError as exc:
            raise ModelStoreError(f"model manifest {manifest} cannot be read: {exc}") from None
    models = [m for m in data.get("models", []) or [] if m.get("file") != entry.file and m.get("name") != name]
    raw = {k: v for k, v in asdict(entry).items() if v not in (None, "", [], {})}
    models.append(raw)
    data["models"] = models
    manifest.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    manifest.write_text(text, encoding="utf-8")
    return entry
