"""Exports of a camera's recorded range to a case, as evidence for looking back (问题回溯).

`export_to_case` finds the indexed segments of the camera that overlap the range, joins their
packets into one MP4 by stream copy (`vision.record.export`), and only then, in one transaction,
writes the export's `recordings` row (kind `export`, the case's id) and the case's audited
`export` action. Retention never removes an export while its case is open. A failure says what
went wrong by kind (`ExportError.status`: 404 no such case or camera, 422 nothing recorded or a
bad range, 507 the disk is full) and leaves neither a file nor a row behind.
"""

from __future__ import annotations

import errno
import logging
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import av
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from citywatch.domain.db import Database
from citywatch.domain.tables import Camera, Case, CaseAction, Recording
from vision.record.export import Cut, export_range

log = logging.getLogger(__name__)

#: The longest range one export joins (an hour of one camera is about 0.7 GB at 1.5 Mbit/s).
MAX_EXPORT_S = 3600.0
#: Where exports live, under the recordings directory: `exports/case-<id>/<camera>-<start>Z-<id>.mp4`.
EXPORTS_DIR = "exports"


class ExportError(Exception):
    """Why an export was not made; `status` is the HTTP status the API answers with."""

    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.field = field  # the request field at fault, for a 422


def plan_cuts(segments: list[Recording], root: Path, start: datetime, end: datetime) -> list[Cut]:
    """The part of each segment (by start) that lies in [start, end), in seconds from its start."""
    cuts = []
    for row in segments:
        from_s = max(0.0, (start - row.start_at).total_seconds())
        to_s = min(row.duration_s, (end - row.start_at).total_seconds())
        if to_s > from_s:
            cuts.append(Cut(root / row.path, from_s, to_s))
    return cuts


def export_to_case(
    database: Database,
    root: Path,
    *,
    case_id: int,
    camera_id: str,
    start: datetime,
    end: datetime,
    actor: str,
    max_s: float = MAX_EXPORT_S,
) -> Recording:
    """Export [start, end) of `camera_id` to case `case_id`; the stored row (file durable first)."""
    if not start < end:
        raise ExportError(422, "the end of the range must come after its start", "end")
    if (end - start).total_seconds() > max_s:
        raise ExportError(422, f"a range longer than {max_s:.0f} s cannot be exported at once", "end")
    with database.read_session() as session:
        if session.get(Case, case_id) is None:
            raise ExportError(404, f"no case {case_id}")
        if session.get(Camera, camera_id) is None:
            raise ExportError(404, f"no camera {camera_id!r}")
        segments = list(
            session.scalars(
                select(Recording)
                .where(
                    Recording.camera_id == camera_id,
                    Recording.kind == "segment",
                    Recording.start_at < end,
                    Recording.end_at > start,
                )
                .order_by(Recording.start_at, Recording.id)
            )
        )
        session.expunge_all()
    cuts = plan_cuts(segments, root, start, end)
    if not cuts:
        raise ExportError(422, f"camera {camera_id!r} has no recording between {start:%H:%M:%S} and {end:%H:%M:%S}")
    name = f"{EXPORTS_DIR}/case-{case_id}/{camera_id}-{start:%Y%m%dT%H%M%S}Z-{uuid.uuid4().hex[:8]}.mp4"
    path = root / name
    try:
        written = export_range(cuts, path, title=f"case {case_id} · {camera_id} · {start.isoformat()}")
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise ExportError(507, "the recordings disk is full: the export was not written") from exc
        raise ExportError(422, f"the recordings of {camera_id!r} could not be read: {exc}") from exc
    except (ValueError, av.FFmpegError) as exc:
        raise ExportError(422, f"the recordings of {camera_id!r} could not be exported: {exc}") from exc
    began = start - timedelta(seconds=written.lead_s)
    row = Recording(
        camera_id=camera_id,
        kind="export",
        path=name,
        start_at=began,
        end_at=began + timedelta(seconds=written.duration_s),
        duration_s=written.duration_s,
        bytes=written.bytes,
        codec=_codec(segments),
        case_id=case_id,
        created_by=actor,
    )
    try:
        with database.session() as session:
            case = session.get(Case, case_id, with_for_update=True)
            if case is None:
                raise ExportError(404, f"no case {case_id}")
            session.add(row)
            session.flush()
            session.add(
                CaseAction(
                    case_id=case_id,
                    actor=actor,
                    action="export",
                    from_status=case.status,
                    to_status=case.status,
                    note=f"导出录像 {camera_id} {start.isoformat()} — {end.isoformat()}",
                    data={
                        "recording_id": row.id,
                        "camera_id": camera_id,
                        "start": start.isoformat(),
                        "end": end.isoformat(),
                        "segments": len(cuts),
                    },
                )
            )
    except (ExportError, SQLAlchemyError):
        path.unlink(missing_ok=True)  # no file without its row
        raise
    log.info("case %s: exported %s %s..%s (%d bytes)", case_id, camera_id, start, end, written.bytes)
    return row


def _codec(segments: list[Recording]) -> str | None:
    return next((row.codec for row in segments if row.codec), None)
