"""Reloading a running cluster's cameras (added, removed, changed) without touching the other
groups: `plan_reload` (pure) compares the groups of the running config with those of the new one.

A group is kept when it has the same cameras with the same configuration; every other group of
the old partition is retired (checkpointed, then ended) and every other group of the new one
started, restoring the checkpoints of its cameras whose configuration did not change. The
partition is stable (`citywatch.cluster.partition`), so adding a camera restarts few groups.
"""

from __future__ import annotations

from dataclasses import dataclass

from citywatch.config import CameraConfig, CitywatchConfig


@dataclass(frozen=True)
class ReloadPlan:
    """Which groups to keep running, to retire and to start, and which cameras resume from their
    checkpoints (their configuration is unchanged)."""

    keep: tuple[str, ...]
    retire: tuple[str, ...]
    start: tuple[str, ...]
    resume: frozenset[str]


def _cameras(config: CitywatchConfig) -> dict[str, CameraConfig]:
    return {camera.id: camera for camera in config.cameras if camera.enabled}


def plan_reload(
    old: CitywatchConfig, old_groups: dict[str, list[str]], new: CitywatchConfig, new_groups: dict[str, list[str]]
) -> ReloadPlan:
    """What to do to go from `old` (running as `old_groups`) to `new` (partitioned as `new_groups`).

    Example:
        >>> plan = plan_reload(config, {"g0": ["a"]}, config, {"g0": ["a"]})  # doctest: +SKIP
        >>> plan.keep, plan.retire, plan.start  # doctest: +SKIP
        (('g0',), (), ())
    """
    before, after = _cameras(old), _cameras(new)
    same = frozenset(camera_id for camera_id, camera in after.items() if before.get(camera_id) == camera)
    keep = tuple(
        sorted(
            group_id
            for group_id, ids in new_groups.items()
            if sorted(old_groups.get(group_id, [])) == sorted(ids) and all(c in same for c in ids)
        )
    )
    retire = tuple(sorted(set(old_groups) - set(keep)))
    start = tuple(sorted(set(new_groups) - set(keep)))
    return ReloadPlan(keep, retire, start, same)
