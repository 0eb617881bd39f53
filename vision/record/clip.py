"""Event clips to MP4: the packets of a `Clip` remuxed with PyAV (stream copy, `movflags=faststart`),
written to a temporary file, fsync'd and renamed, by one background `ClipWriter` per runtime.

A codec the `mp4` muxer refuses (vtest.avi's MS-MPEG4 v3) is written by the `mov` muxer into the
same `.mp4` file name (ffprobe and players read it; browsers play only H.264 and friends). The
writer keeps the recordings directory under its byte limit by refusing new clips beyond it, and
never takes the last `FREE_RESERVE_BYTES` (or tenth) of its disk: clips yield to the evidence photos and the
spool, which may share it (a clip refused leaves its event whole, with `clip` null).
"""

from __future__ import annotations

import errno
import logging
import os
import queue
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av

from vision.record.ring import Clip, StreamTemplate

log = logging.getLogger(__name__)

#: Clips waiting for the writer; beyond it a clip is given up (its event keeps `clip` null).
WRITER_QUEUE = 256
#: Plain words for the errors of a failing recordings disk.
DISK_ERRORS = {errno.ENOSPC: "recordings disk full", errno.EROFS: "recordings disk read-only"}


@dataclass(frozen=True)
class ClipFile:
    """A clip on disk: its path, size, container format and the stream seconds it covers."""

    path: Path
    bytes: int
    format: str
    first_s: float
    last_s: float
    packets: int


def _open_output(path: Path, template: StreamTemplate) -> tuple[av.container.OutputContainer, av.VideoStream, str]:
    """An MP4 output with one stream copied from `template`: the `mp4` muxer, or `mov` for a codec
    `mp4` does not take (same ISO base media file, wider codec list)."""
    for fmt in ("mp4", "mov"):
        output = av.open(str(path), "w", format=fmt, options={"movflags": "+faststart"})
        try:
            stream = output.add_stream_from_template(template.stream, opaque=True)
        except ValueError:
            output.close()
            continue
        return output, stream, fmt
    raise ValueError(f"no MP4 muxer takes codec {template.codec!r}")


def write_clip(clip: Clip, path: Path) -> ClipFile:
    """Remux `clip` into `path` durably (temporary file, fsync, rename, fsync of the folder).
    Raises `ValueError` for a clip with no packets, `OSError` or `av.FFmpegError` when writing fails."""
    if not clip.entries or clip.template is None:
        raise ValueError("no video packets for the clip")
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    try:
        output, stream, fmt = _open_output(part, clip.template)
        output.metadata["title"] = f"camera {clip.camera_id}, event {clip.key}"
        output.metadata["comment"] = (  # which part of the stream this is, for anyone holding only the file
            f"stream {clip.first_s:.3f}-{clip.last_s:.3f} s, trigger {clip.trigger_s:.3f} s"
        )
        with output:
            base = min(entry.dts for entry in clip.entries)
            time_base = clip.template.time_base
            last_dts: int | None = None
            for entry in clip.entries:
                packet = av.Packet(bytes(entry.packet))  # a copy: the ring's packet is shared, never modified
                dts = entry.dts - base
                if last_dts is not None and dts <= last_dts:
                    dts = last_dts + 1  # the muxer needs strictly increasing dts
                packet.dts, packet.pts = dts, max(entry.pts - base, dts)
                packet.time_base = time_base
                packet.is_keyframe = entry.key
                packet.stream = stream
                output.mux(packet)
                last_dts = dts
        with open(part, "rb") as written:
            os.fsync(written.fileno())
        os.replace(part, path)
        _fsync_dir(path.parent)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return ClipFile(
        path, path.stat().st_size, fmt, float(clip.first_s or 0.0), float(clip.last_s or 0.0), len(clip.entries)
    )


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


#: Free space a clip never takes on the recordings disk (left to evidence JPEGs and the spool):
#: this much, or a tenth of a smaller disk.
FREE_RESERVE_BYTES = 64 * 2**20


def free_bytes(root: Path) -> tuple[int, int]:
    """(free bytes, the reserve a clip must leave) on the filesystem of `root` (or of its nearest
    existing parent)."""
    folder = root
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    usage = shutil.disk_usage(folder)
    return usage.free, min(FREE_RESERVE_BYTES, usage.total // 10)


def recordings_size(root: Path) -> int:
    """Bytes of the clips under `root` (0 when it does not exist)."""
    return sum(p.stat().st_size for p in root.rglob("*.mp4") if p.is_file()) if root.is_dir() else 0


#: Told of each clip's outcome: (key, file name relative to the recordings directory or None, why not).
ClipDone = Callable[[str, str | None, str | None], None]


class ClipWriter:
    """Writes finished clips in its own thread, in order, and reports each outcome to `on_done`:
    the relative file name once the file is durable, or None with a reason (disk full, over the
    limit, no video). A clip that cannot be written never stops the camera or loses its event.

    Example:
        >>> writer = ClipWriter(Path("data/recordings"), max_bytes=10**12, on_done=sink.attach_clip)  # doctest: +SKIP
        >>> ring = PacketRing("cam", window_s=10.0, on_clip=writer.submit)  # doctest: +SKIP
    """

    def __init__(self, root: Path, *, max_bytes: int, on_done: ClipDone):
        self.root = root
        self.max_bytes = max_bytes
        self.on_done = on_done
        self._queue: queue.Queue[Clip | None] = queue.Queue(WRITER_QUEUE)
        self._used: int | None = None  # bytes in the recordings directory, counted at the first clip
        self._busy = 0
        self._idle = threading.Condition()
        self.written = 0
        self.failed = 0
        #: Why the last clip could not be written, while clips fail; None once one is written again.
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, name="clip-writer", daemon=True)
        self._thread.start()

    def submit(self, clip: Clip) -> None:
        """Queue a finished clip (called by the ring, in the reader's or the analysis thread)."""
        with self._idle:
            self._busy += 1
        try:
            self._queue.put_nowait(clip)
        except queue.Full:
            self._finish(clip.key, None, "the clip writer is behind (queue full)")

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every submitted clip is written or given up; True when none is left."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued, then stop the thread."""
        self.flush(timeout)
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while (clip := self._queue.get()) is not None:
            name, reason = self._write(clip)
            self._finish(clip.key, name, reason)

    def _write(self, clip: Clip) -> tuple[str | None, str | None]:
        try:
            if self._used is None:
                self._used = recordings_size(self.root)
            if self._used + clip.size > self.max_bytes:
                return None, f"recordings over their limit ({self._used / 1e9:.2f} of {self.max_bytes / 1e9:g} GB)"
            free, reserve = free_bytes(self.root)
            if free - clip.size < reserve:
                room = f"{free / 2**20:.1f} MiB free, the last {reserve / 2**20:.1f} MiB kept for evidence"
                return None, f"recordings disk full ({self.root}: {room})"
            written = write_clip(clip, self.root / clip.name)
        except OSError as exc:
            return None, f"{DISK_ERRORS.get(exc.errno or 0, 'recordings not writable')} ({self.root}): {exc.strerror}"
        except (ValueError, av.FFmpegError) as exc:
            return None, f"clip not written: {exc}"
        self._used += written.bytes
        if clip.ended_early:
            log.info("camera %s: clip %s ends at %.1fs (the source ended)", clip.camera_id, clip.key, written.last_s)
        return clip.name, None

    def _finish(self, key: str, name: str | None, reason: str | None) -> None:
        if name is None:
            self.failed += 1
            self.error = reason
            log.warning("clip of event %s not written: %s", key, reason)
        else:
            self.written += 1
            self.error = None
        try:
            self.on_done(key, name, reason)
        except Exception:
            log.exception("clip of event %s: storing its outcome failed", key)
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()
