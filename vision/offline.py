"""Keep ultralytics offline: no downloads of fonts, weights or packages, no telemetry.

City video networks are isolated. Ultralytics tries to fetch fonts and to pip-install missing
requirements unless told otherwise, so Citywatch sets its environment before ultralytics is
imported and provides the fonts it would download (DejaVu Sans, shipped with matplotlib).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

FONT_NAMES = ("Arial.ttf", "Arial.Unicode.ttf")


def _bundled_font() -> Path | None:
    """A TTF available offline: matplotlib's DejaVu Sans (found without importing matplotlib,
    which takes a third of a second), else Debian's."""
    spec = importlib.util.find_spec("matplotlib")
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder) / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
        if path.is_file():
            return path
    debian = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    return debian if debian.is_file() else None


def default_config_dir() -> Path:
    """Where Citywatch keeps ultralytics' settings and fonts unless YOLO_CONFIG_DIR is set."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "citywatch" / "ultralytics"


def ensure_offline_ultralytics() -> Path:
    """Set YOLO_OFFLINE, YOLO_AUTOINSTALL and YOLO_CONFIG_DIR (with fonts) if not set; return the dir."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    os.environ.setdefault("YOLO_VERBOSE", "false")
    config_dir = Path(os.environ.get("YOLO_CONFIG_DIR") or default_config_dir())
    try:
        (config_dir / "Ultralytics").mkdir(parents=True, exist_ok=True)
    except OSError:
        config_dir = Path(tempfile.gettempdir()) / "citywatch-ultralytics"
        (config_dir / "Ultralytics").mkdir(parents=True, exist_ok=True)
    os.environ["YOLO_CONFIG_DIR"] = str(config_dir)
    targets = [folder / name for name in FONT_NAMES for folder in (config_dir / "Ultralytics", config_dir)]
    missing = [target for target in targets if not target.exists()]
    font = _bundled_font() if missing else None
    if font is not None:
        for target in missing:
            shutil.copyfile(font, target)
    return config_dir
