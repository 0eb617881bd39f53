"""Events waiting in memory for a failing evidence disk, with their encoded JPEG bytes.

The event sink (`citywatch.sink`) writes each event's evidence before its row. When a write fails
(disk full, read-only, I/O error: any `OSError`) the event waits here, bounded by bytes and by
count, until the sink's retry thread writes its files (`retry_head`); the end of a waiting event
waits behind it (`hold_end`), so it never reaches the database before its event. Beyond the bound
`hold` refuses, and the sink stores the row without the missing images. `problems()` says what is
wrong, in plain words, for `/healthz`. Not thread-safe on its own: the sink's lock guards it.

Example:
    >>> queue = EvidenceQueue(Path("data/evidence"))  # doctest: +SKIP
    >>> rest = queue.write(item, {"trigger": (path, jpeg)})  # what could not be written  # doctest: +SKIP
    >>> rest and queue.hold(Held("record", item, rest))  # doctest: +SKIP
"""

from __future__ import annotations

import errno
import logging
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vision.evidence import write_durably

log = logging.getLogger(__name__)

#: Bounds of the evidence held in memory while the evidence disk fails.
HELD_MAX_BYTES = 64 * 1024 * 1024
HELD_MAX_EVENTS = 2000

#: Plain words for the errors of a failing evidence disk.
DISK_ERRORS = {
    errno.ENOSPC: "evidence disk full",
    errno.EROFS: "evidence disk read-only",
    errno.EDQUOT: "evidence disk quota exceeded",
}

#: Evidence images still to write: kind -> (path, JPEG bytes).
Images = dict[str, tuple[Path, bytes]]


@dataclass
class Held:
    """A message waiting in memory: a record with the evidence still to write, or the end of one."""

    kind: str
    item: dict[str, Any]
    images: Images = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(len(data) for _, data in self.images.values())


class EvidenceQueue:
    """The bounded in-memory queue of events whose evidence could not be written yet."""

    def __init__(self, evidence_dir: Path, max_bytes: int = HELD_MAX_BYTES, max_events: int = HELD_MAX_EVENTS):
        self.evidence_dir = evidence_dir
        self.max_bytes = max_bytes
        self.max_events = max_events
        self.entries: deque[Held] = deque()
        self.uids: set[str] = set()
        self.bytes = 0
        #: Why evidence writes fail, while they do; events stored without some evidence meanwhile.
        self.error: str | None = None
        self.without_evidence = 0

    def __len__(self) -> int:
        """Records waiting (their ends not counted)."""
        return len(self.uids)

    def write(self, item: dict[str, Any], images: Images) -> Images:
        """Write what it can of `images` (in order), adding each written file to the item's
        evidence; returns those still to write (none when all went)."""
        remaining = dict(images)
        for kind, (path, data) in images.items():
            try:
                write_durably(path, data)
            except OSError as exc:
                self._failed(exc)
                return remaining
            item["evidence"].append({"kind": kind, "path": str(path)})
            del remaining[kind]
            self._ok()
        return remaining

    def hold(self, entry: Held) -> bool:
        """Keep a record whose evidence could not be written, within the bounds; False when full
        (the caller stores it without those images, counted in `without_evidence`)."""
        if len(self.uids) >= self.max_events or self.bytes + entry.size > self.max_bytes:
            self.without_evidence += 1
            log.error(
                "event %s stored without its %s evidence: %s and the memory bound is reached",
                entry.item["uid"],
                "/".join(entry.images),
                self.error,
            )
            return False
        self.entries.append(entry)
        self.uids.add(entry.item["uid"])
        self.bytes += entry.size
        return True

    def hold_end(self, item: dict[str, Any]) -> bool:
        """Queue the end of an event that waits here behind it; False when its event does not wait."""
        if item["uid"] not in self.uids:
            return False
        self.entries.append(Held("end", item))
        return True

    def retry_head(self) -> Held | None:
        """Try the oldest entry's evidence again; the entry when it is ready for its row, else None."""
        if not self.entries:
            return None
        head = self.entries[0]
        if head.images:
            before = head.size
            head.images = self.write(head.item, head.images)
            self.bytes -= before - head.size
        return None if head.images else head

    def pop(self) -> Held:
        """Remove the oldest entry (its row is stored, or it is given up)."""
        entry = self.entries.popleft()
        if entry.kind == "record":
            self.uids.discard(entry.item["uid"])
        self.bytes -= entry.size
        return entry

    def probe(self) -> bool:
        """With nothing held, find out whether a failed evidence disk takes writes again."""
        probe = self.evidence_dir / ".write-probe"
        try:
            write_durably(probe, b"probe")
            probe.unlink(missing_ok=True)
        except OSError as exc:
            self._failed(exc)
            return False
        self._ok()
        return True

    def problems(self) -> list[str]:
        """The failing disk and what waits because of it, as one sentence (none when all is well)."""
        held, error = len(self.uids), self.error
        if error is None and not held:
            return []
        problem = f"{error or 'evidence writes failing'}: {held} event(s) ({self.bytes / 2**20:.1f} MiB) "
        problem += "held in memory, retrying"
        if self.without_evidence:
            problem += (
                f"; {self.without_evidence} event(s) stored without their evidence (memory bound "
                f"{self.max_bytes / 2**20:.0f} MiB / {self.max_events} events reached)"
            )
        return [problem]

    def _failed(self, exc: OSError) -> None:
        reason = DISK_ERRORS.get(exc.errno or 0) or f"evidence writes failing ({exc.strerror or exc})"
        reason = f"{reason} ({self.evidence_dir})"
        if self.error is None:
            log.error("%s: %s; events wait in memory with their evidence, retrying", reason, exc)
        self.error = reason

    def _ok(self) -> None:
        if self.error is not None:
            log.warning("evidence writes work again (%s); %d event(s) still to write", self.evidence_dir, len(self))
            self.error = None
            self.without_evidence = 0
