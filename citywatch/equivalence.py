"""Whether two runs over the same footage raised the same events (scheduled vs every-frame detection).

Two events are the same when they have the same type, camera, zone and label and their trigger
times differ by at most `tolerance_s` (one analysis interval, by default). `compare_events` pairs
them one to one (within each (type, camera, zone, label), in trigger order) and lists every
difference in words; an empty list means the runs are equivalent. Pure: events are the dicts the
event sink hands its listeners (and `citywatch replay --json` prints).

Example:
    >>> a = [{"type": "illegal_parking", "camera_id": "c", "zone_id": "kerb", "label": "car", "triggered_s": 20.5}]
    >>> compare_events(a, [dict(a[0], triggered_s=21.0)], tolerance_s=0.5)
    []
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Key = tuple[str, str, str, str]


def event_key(event: Mapping[str, Any]) -> Key:
    """(type, camera, zone, label) of an event dict."""
    return (str(event["type"]), str(event["camera_id"]), str(event.get("zone_id") or ""), str(event["label"]))


def _by_key(events: Iterable[Mapping[str, Any]]) -> dict[Key, list[float]]:
    groups: dict[Key, list[float]] = defaultdict(list)
    for event in events:
        groups[event_key(event)].append(float(event["triggered_s"]))
    return {key: sorted(times) for key, times in groups.items()}


def compare_events(
    reference: Sequence[Mapping[str, Any]], candidate: Sequence[Mapping[str, Any]], tolerance_s: float
) -> list[str]:
    """Differences between two runs' events (empty: the same events); see the module docstring."""
    ref, cand = _by_key(reference), _by_key(candidate)
    problems: list[str] = []
    for key in sorted(set(ref) | set(cand)):
        a, b = ref.get(key, []), cand.get(key, [])
        name = "/".join(key)
        if len(a) != len(b):
            problems.append(f"{name}: {len(a)} event(s) at {a} in the reference, {len(b)} at {b}")
            continue
        for x, y in zip(a, b, strict=True):
            if abs(x - y) > tolerance_s + 1e-6:
                problems.append(f"{name}: triggered at {y:.2f} s instead of {x:.2f} s (tolerance {tolerance_s} s)")
    return problems
