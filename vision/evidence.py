"""Photo evidence: draw the zone and the object's box on a frame and write it as a JPEG.

Files are written to a temporary name, flushed and fsync'd, then renamed, so a snapshot path that
an event points to always names a complete file; the caller commits the event only afterwards. A
failed write (a full or read-only disk: any `OSError`) leaves no partial file behind.

Captions in Chinese are drawn with Pillow and a CJK font (OpenCV's fonts have no CJK glyphs).

Test hook: while the file named by `$CITYWATCH_FAULT_EVIDENCE_ENOSPC` exists, every write fails
with ENOSPC, as on a full disk (for tests where a small tmpfs cannot be mounted).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vision.zones import Zone

#: The fault-injection hook: the path of a flag file; while it exists, evidence writes fail (ENOSPC).
FAULT_ENOSPC_ENV = "CITYWATCH_FAULT_EVIDENCE_ENOSPC"

ZONE_COLOUR = (0, 0, 255)  # BGR red
BOX_COLOUR = (0, 255, 0)  # BGR green
#: Fonts with CJK glyphs for captions in the operators' language (scripts/install-system-deps.sh
#: installs the first); without any, a caption falls back to OpenCV's ASCII.
CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)


def annotate(image: np.ndarray, zones: Sequence[Zone], box: Sequence[float] | None, caption: str = "") -> np.ndarray:
    """A copy of `image` with zone outlines, the object's box and a caption drawn on it."""
    out = image.copy()
    height, width = out.shape[:2]
    thickness = max(2, round(min(width, height) / 300))
    for zone in zones:
        cv2.polylines(out, [zone.pixels(width, height).reshape(-1, 1, 2)], True, ZONE_COLOUR, thickness)
    if box is not None:
        x1, y1, x2, y2 = (round(float(v)) for v in box)
        cv2.rectangle(out, (x1, y1), (x2, y2), BOX_COLOUR, thickness)
        if caption:
            _caption(out, caption, x1, y1)
    return out


@functools.cache
def _cjk_font(size: int) -> ImageFont.FreeTypeFont | None:
    """A font with CJK glyphs at `size` pixels (the first of `CJK_FONTS` present), or None."""
    for path in CJK_FONTS:
        if Path(path).is_file():
            return ImageFont.truetype(path, size)
    return None


def _caption(out: np.ndarray, caption: str, x1: int, y1: int) -> None:
    """Draw `caption` on a filled label above the box's top-left corner: with a CJK font through
    Pillow (OpenCV's Hershey fonts have no CJK glyphs), else in OpenCV with the ASCII it has."""
    height, width = out.shape[:2]
    size = max(14, round(min(width, height) / 36))
    font = _cjk_font(size) if not caption.isascii() else None
    if font is None:
        text = caption.encode("ascii", "replace").decode() if not caption.isascii() else caption
        scale = max(0.5, min(width, height) / 900)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        top, left = max(0, y1 - th - base - 4), max(0, min(x1, width - tw - 4))
        cv2.rectangle(out, (left, top), (left + tw + 4, top + th + base + 4), BOX_COLOUR, -1)
        cv2.putText(out, text, (left + 2, top + th + 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
        return
    x0, y0, x_end, y_end = (round(v) for v in font.getbbox(caption))
    tw, th = x_end - x0, y_end - y0
    top, left = max(0, y1 - th - 8), max(0, min(x1, width - tw - 8))
    bottom, right = min(height, top + th + 8), min(width, left + tw + 8)
    label = Image.fromarray(np.ascontiguousarray(out[top:bottom, left:right, ::-1]))
    draw = ImageDraw.Draw(label)
    draw.rectangle((0, 0, right - left, bottom - top), fill=BOX_COLOUR[::-1])
    draw.text((4 - x0, 4 - y0), caption, font=font, fill=(0, 0, 0))
    out[top:bottom, left:right] = np.asarray(label)[:, :, ::-1]


def encode_jpeg(image: np.ndarray, quality: int = 85) -> bytes:
    """JPEG bytes of a BGR image."""
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buffer.tobytes()


def write_durably(path: Path, data: bytes) -> Path:
    """Write bytes to `path` atomically and durably (temp file, fsync, rename, fsync dir); an
    `OSError` (ENOSPC, EROFS, EIO, ...) leaves neither the file nor its temporary behind."""
    flag = os.environ.get(FAULT_ENOSPC_ENV)
    if flag and os.path.exists(flag):
        raise OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} (fault injected by ${FAULT_ENOSPC_ENV})", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):  # a partial temporary would only take more of a full disk
            tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path
