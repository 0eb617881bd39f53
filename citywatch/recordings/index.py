"""The recordings index: rows of the `recordings` table for the segments on disk.

`SegmentIndexer` is a segment recorder's `on_segment`: it writes the row of each segment once the
file is durable (a failed write is only logged: `reconcile` catches up). `reconcile`, run by the
retention maintainer at start and on every pass, makes the table agree with the disk: it indexes
the finished segments no row names (written by a camera group, or while the database was down:
their length is read from the file) and drops the rows of files that are gone.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from citywatch.domain.db import Database
from citywatch.domain.tables import Camera, Recording
from vision.record.segments import SegmentFile

log = logging.getLogger(__name__)

#: `<camera>/<UTC day>/<UTC start to the ms>Z-<seq>.mp4`, as `vision.record.segments.segment_name` names them.
SEGMENT_NAME = re.compile(r"(?P<camera>[^/]+)/\d{8}/(?P<start>\d{8}T\d{9})Z-\d+\.mp4")


def segment_start(name: str) -> tuple[str, datetime] | None:
    """(camera id, UTC start) of a segment's relative name; None when `name` is not one."""
    match = SEGMENT_NAME.fullmatch(name)
    if match is None:
        return None
    start = datetime.strptime(match["start"] + "000", "%Y%m%dT%H%M%S%f").replace(tzinfo=UTC)
    return match["camera"], start


def probe_duration(path: Path) -> tuple[float, str | None]:
    """Seconds of video in an MP4 and its codec, read from its packets (a repaired or fragmented
    file may carry no duration in its header)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        time_base = float(stream.time_base or 0) or 1 / 90000
        first = last = None
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            first = packet.pts if first is None else min(first, packet.pts)
            end = packet.pts + (packet.duration or 0)
            last = end if last is None else max(last, end)
        codec = stream.codec_context.name
    return ((last - first) * time_base if first is not None and last is not None else 0.0), codec


def segment_row(segment: SegmentFile) -> Recording:
    """The index row of a finished segment: wall start, and an end one stream length later."""
    duration = max(0.0, segment.end_s - segment.start_s)
    return Recording(
        camera_id=segment.camera_id,
        kind="segment",
        path=segment.name,
        start_at=segment.wall_start,
        end_at=segment.wall_start + timedelta(seconds=duration),
        duration_s=duration,
        bytes=segment.bytes,
        codec=segment.codec,
        motion=segment.motion,
    )


class SegmentIndexer:
    """`on_segment` of the recorders of one process: one row per finished segment.

    Example:
        >>> recorder = SegmentRecorder.for_camera(camera, root, SegmentIndexer(database))  # doctest: +SKIP
    """

    def __init__(self, database: Database):
        self.database = database
        self.failed = 0

    def __call__(self, segment: SegmentFile) -> None:
        try:
            with self.database.session() as session:
                session.add(segment_row(segment))
        except IntegrityError:  # indexed already (by a reconcile pass)
            return
        except SQLAlchemyError as exc:
            self.failed += 1
            log.warning("segment %s not indexed yet (%s); the next retention pass will", segment.name, exc)


def reconcile(database: Database, root: Path) -> tuple[int, int]:
    """Index the segments on disk no row names, drop the rows whose file is gone; returns (added, dropped)."""
    with database.read_session() as session:
        rows = {path: row_id for path, row_id in session.execute(select(Recording.path, Recording.id))}
        cameras = set(session.scalars(select(Camera.id)))
    on_disk = {p.relative_to(root).as_posix(): p for p in root.rglob("*.mp4")} if root.is_dir() else {}
    added = 0
    for name, path in sorted(on_disk.items()):
        parsed = segment_start(name)
        if name in rows or parsed is None or parsed[0] not in cameras:
            continue
        try:
            duration, codec = probe_duration(path)
            row = Recording(
                camera_id=parsed[0],
                kind="segment",
                path=name,
                start_at=parsed[1],
                end_at=parsed[1] + timedelta(seconds=duration),
                duration_s=duration,
                bytes=path.stat().st_size,
                codec=codec,
            )
            with database.session() as session:
                session.add(row)
            added += 1
        except (OSError, av.FFmpegError, IndexError) as exc:
            log.warning("recording %s not indexed: %s", name, exc)
        except IntegrityError:
            continue
    gone = [row_id for name, row_id in rows.items() if name not in on_disk]
    if gone:
        with database.session() as session:
            session.execute(delete(Recording).where(Recording.id.in_(gone)))
    return added, len(gone)
