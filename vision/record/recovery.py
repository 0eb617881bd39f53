"""Recovery after a crash: the `.mp4.part` segments a kill -9 left in the recordings directory.

A segment is fragmented MP4, so what was written up to its last complete fragment is readable:
`recover_parts` remuxes that (stream copy) into the final `.mp4` (fsync, rename) and removes the
`.part`; a part with no readable packet is removed. Finished files are never touched, so no earlier
segment is lost. Run at start-up, before the cameras start.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import av

from vision.record.clip import _fsync_dir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recovered:
    """One `.part` handled: its final name (None when removed), and the packets kept."""

    part: Path
    path: Path | None
    packets: int


def repair(part: Path) -> Recovered:
    """Remux the readable packets of `part` into its final name (without `.part`); remove it."""
    final = part.with_name(part.name.removesuffix(".part"))
    tmp = final.with_name(final.name + ".repair")
    packets = 0
    try:
        with av.open(str(part)) as source:
            video = source.streams.video[0]
            with av.open(
                str(tmp), "w", format="mp4" if _mp4_takes(video) else "mov", options={"movflags": "+faststart"}
            ) as output:
                stream = output.add_stream_from_template(video, opaque=True)
                try:
                    for packet in source.demux(video):
                        if packet.dts is None or not packet.size:
                            continue
                        packet.stream = stream
                        output.mux(packet)
                        packets += 1
                except (av.FFmpegError, EOFError):  # the broken tail: keep what came before it
                    log.info("segment %s: broken tail discarded after %d packets", part.name, packets)
        if packets:
            with open(tmp, "rb") as written:
                os.fsync(written.fileno())
            os.replace(tmp, final)
            _fsync_dir(final.parent)
    except (av.FFmpegError, ValueError, IndexError, OSError) as exc:
        log.info("segment %s: nothing readable (%s)", part.name, exc)
        packets = 0
    tmp.unlink(missing_ok=True)
    part.unlink(missing_ok=True)
    return Recovered(part, final if packets else None, packets)


def _mp4_takes(stream: av.VideoStream) -> bool:
    probe = av.open(os.devnull, "w", format="mp4")
    try:
        probe.add_stream_from_template(stream, opaque=True)
    except ValueError:
        return False
    finally:
        probe.close()
    return True


def recover_parts(root: Path) -> list[Recovered]:
    """Repair or remove every `.mp4.part` under `root` (the recordings directory)."""
    if not root.is_dir():
        return []
    return [repair(part) for part in sorted(root.rglob("*.mp4.part"))]
