"""Operating modes (normal, flood, ...): which rules run on which camera, how fast, how urgently.

`plan_for(config, mode, camera)` is the pure decision: a camera takes the entries of every group
it is in (union of active rules, highest analysis fps, highest detector priority); a camera in
none of the mode's groups takes the mode's '*' entry or, without one, all its rules at its own
rate. A mode entry names rules by id or by type (`waterlogging` = every waterlogging rule).

`ModeHolder` is the one object per runtime that camera pipelines consult (no globals). The
current mode lives in the database (`mode_changes`, newest row wins), so it survives a restart
and a switch made by another process (`citywatch mode set flood`) reaches a running pipeline:
the holder re-reads the newest row at most every `mode_poll_s`. `set_mode` records who switched
and when.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from citywatch.config import CameraConfig, CitywatchConfig
from citywatch.domain.db import Database
from citywatch.domain.mode_log import latest_change, record_change

log = logging.getLogger(__name__)

PRIORITIES = {"normal": 0, "high": 1}


@dataclass(frozen=True, slots=True)
class CameraPlan:
    """What a mode means for one camera."""

    mode: str
    active_rules: frozenset[str]
    analysis_fps: float
    priority: int  # 0 normal, 1 high


def plan_for(config: CitywatchConfig, mode: str, camera: CameraConfig) -> CameraPlan:
    """The rules, rate and priority of `camera` in `mode` (see the module docstring)."""
    spec = config.modes.get(mode)
    all_rules = frozenset(rule.id for rule in camera.rules)
    if spec is None:
        return CameraPlan(mode, all_rules, camera.analysis_fps, 0)
    entries = [spec.groups[g] for g in camera.groups if g in spec.groups]
    if not entries and "*" in spec.groups:
        entries = [spec.groups["*"]]
    if not entries:
        return CameraPlan(mode, all_rules, camera.analysis_fps, 0)
    active: set[str] = set()
    for entry in entries:
        if entry.rules == "all":
            active |= all_rules
        elif entry.rules != "none":
            wanted = set(entry.rules)
            active |= {rule.id for rule in camera.rules if rule.id in wanted or rule.type in wanted}
    fps = max((e.analysis_fps for e in entries if e.analysis_fps is not None), default=camera.analysis_fps)
    priority = max(PRIORITIES[e.priority] for e in entries)
    return CameraPlan(mode, frozenset(active), fps, priority)


class UnknownModeError(ValueError):
    """A mode name the config does not define."""


class ModeHolder:
    """The current mode of one runtime; thread-safe; optionally backed by the database.

    `version` increases at every change, so a pipeline can tell cheaply that it must re-plan.
    """

    def __init__(
        self, config: CitywatchConfig, database: Database | None = None, *, clock: Callable[[], float] = time.monotonic
    ):
        self.config = config
        self.database = database
        self.poll_s = config.mode_poll_s
        self._clock = clock
        self._lock = threading.Lock()
        self.mode = config.default_mode
        self.version = 0
        self.changed_by: str | None = None
        self.changed_at: datetime | str | None = None
        self._last_row_id: int | None = None
        self._last_poll = -float("inf")
        if database is not None:
            self.refresh(force=True)

    def current(self) -> tuple[str, int]:
        """(mode, version), re-reading the database when the poll interval has passed."""
        if self.database is not None and self._clock() - self._last_poll >= self.poll_s:
            self.refresh()
        return self.mode, self.version

    def refresh(self, force: bool = False) -> None:
        """Adopt the newest stored switch, if it is new (unknown stored modes are ignored)."""
        if self.database is None:
            return
        with self._lock:
            if not force and self._clock() - self._last_poll < self.poll_s:
                return
            self._last_poll = self._clock()
            try:
                row = latest_change(self.database)
            except Exception:  # a database hiccup must not stop analysis: keep the current mode
                log.exception("could not read the current mode")
                return
            if row is None or row["id"] == self._last_row_id:
                return
            self._last_row_id = row["id"]
            if row["mode"] not in self.config.modes:
                log.warning("stored mode %r is not in this config; keeping %r", row["mode"], self.mode)
                return
            self._adopt(row["mode"], row["changed_by"], row["changed_at"])

    def set(self, mode: str, changed_by: str, via: str = "api") -> dict[str, Any]:
        """Switch to `mode` now and record who did it (when backed by a database)."""
        if mode not in self.config.modes:
            raise UnknownModeError(f"unknown mode {mode!r}; known: {sorted(self.config.modes)}")
        with self._lock:
            previous = self.mode
            if self.database is not None:
                row = record_change(self.database, mode, changed_by, via, previous)
                self._last_row_id = row["id"]
            else:
                row = {
                    "mode": mode,
                    "previous": previous,
                    "changed_by": changed_by,
                    "via": via,
                    "changed_at": datetime.now().astimezone().isoformat(),
                }
            self._adopt(mode, changed_by, row["changed_at"])
            return row

    def _adopt(self, mode: str, changed_by: str | None, changed_at: Any) -> None:
        if mode != self.mode:
            log.info("mode %s -> %s (by %s)", self.mode, mode, changed_by)
        self.mode, self.changed_by, self.changed_at = mode, changed_by, changed_at
        self.version += 1

    def plan(self, camera: CameraConfig) -> CameraPlan:
        """The current mode's plan for a camera."""
        return plan_for(self.config, self.current()[0], camera)


def set_mode(config: CitywatchConfig, database: Database, mode: str, changed_by: str, via: str) -> dict[str, Any]:
    """Record a switch in the database (for a process without a running pipeline, e.g. the CLI)."""
    if mode not in config.modes:
        raise UnknownModeError(f"unknown mode {mode!r}; known: {sorted(config.modes)}")
    current = latest_change(database)
    previous = current["mode"] if current else config.default_mode
    return record_change(database, mode, changed_by, via, previous)


def stored_mode(config: CitywatchConfig, database: Database) -> tuple[str, dict[str, Any] | None]:
    """(current mode, its newest switch) from the database: the stored mode when this config
    defines it, else the config's default mode."""
    current = latest_change(database)
    mode = current["mode"] if current and current["mode"] in config.modes else config.default_mode
    return mode, current


def plan_payload(plan: CameraPlan) -> dict[str, Any]:
    """The JSON-ready form of a camera's plan: its active rules, rate and detector priority."""
    return {
        "active_rules": sorted(plan.active_rules),
        "analysis_fps": plan.analysis_fps,
        "priority": "high" if plan.priority else "normal",
    }
