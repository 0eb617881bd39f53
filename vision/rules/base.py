"""The stay machinery every rule shares: tracked objects over stream time in, stays out.

The decisions are pure functions over immutable state (`step_dwell`), so every rule tests without
video. A "stay" belongs to one physical object in one rule's zones: it survives short occlusion
and tracker ID switches (a new track that appears where a recently unseen stay was is the same
object), raises at most one trigger, and ends when the object has been gone for the grace period.
Cooldown (per zone) and re-arm (per place: a triggered stay that ended leaves its box behind, and
a new stay overlapping it within `rearm_s` cannot raise again) come from `vision.rules.schedule`.

`RuleEvaluator` is the shape of every rule kind's per-camera evaluator; `StayRule` is the shell
the stay-based kinds (parking, litter) build on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

import numpy as np

from citywatch.config import RuleConfig, ZoneConfig
from vision.rules.schedule import Gate, may_fire
from vision.track import TrackedObject
from vision.zones import Zone, anchor_point, box_iou, normalise

Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class Observation:
    """An object of a rule's labels whose anchor is inside one of the rule's zones."""

    track_id: int
    label: str
    xyxy: Box
    score: float
    zone_id: str


@dataclass(frozen=True, slots=True)
class Stay:
    """One object's continuous presence in a rule's zone."""

    stay_id: int
    track_id: int
    zone_id: str
    label: str
    first_seen_s: float
    last_seen_s: float
    xyxy: Box
    score: float
    triggered_s: float | None = None

    @property
    def dwell_s(self) -> float:
        return self.last_seen_s - self.first_seen_s


@dataclass(frozen=True, slots=True)
class DwellParams:
    """Thresholds of a dwell rule, in stream seconds."""

    min_dwell_s: float
    grace_s: float = 10.0
    reassociate_iou: float = 0.3
    cooldown_s: float = 0.0
    rearm_s: float = 0.0


@dataclass(frozen=True, slots=True)
class DwellState:
    """All live stays of one rule on one camera."""

    stays: tuple[Stay, ...] = ()
    next_stay_id: int = 1
    #: Cooldown per zone: (zone_id, gate).
    gates: tuple[tuple[str, Gate], ...] = ()
    #: Places of triggered stays that ended: (box, zone_id, ended_s), kept for `rearm_s`.
    spent: tuple[tuple[Box, str, float], ...] = ()
    #: Stay ids that may not raise (they re-occupy a spent place within `rearm_s`).
    muted: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class StayUpdate:
    """Something that happened to a stay at stream time `at_s`."""

    kind: Literal["started", "triggered", "ended"]
    stay: Stay
    at_s: float


def step_dwell(
    state: DwellState, observations: Sequence[Observation], now_s: float, params: DwellParams
) -> tuple[DwellState, list[StayUpdate]]:
    """Advance a dwell rule by one analysed frame at stream time `now_s`.

    Observations are matched to stays by track id, then (for new track ids) to recently unseen
    stays by box overlap, so an ID switch does not restart the timer. Unmatched observations
    start stays; stays unseen for longer than `grace_s` end; a stay whose dwell reaches
    `min_dwell_s` triggers once.
    """
    updates: list[StayUpdate] = []
    by_track = {stay.track_id: stay for stay in state.stays}
    matched: dict[int, Observation] = {}  # stay_id -> observation
    leftovers: list[Observation] = []
    for obs in sorted(_one_per_track(observations), key=lambda o: o.track_id):
        stay = by_track.get(obs.track_id)
        if stay is not None and stay.stay_id not in matched:
            matched[stay.stay_id] = obs
        else:
            leftovers.append(obs)

    unseen = [s for s in state.stays if s.stay_id not in matched and now_s - s.last_seen_s <= params.grace_s]
    pairs = sorted(
        ((box_iou(s.xyxy, o.xyxy), s.stay_id, i) for s in unseen for i, o in enumerate(leftovers)),
        key=lambda p: (-p[0], p[1], p[2]),
    )
    adopted: set[int] = set()
    for iou, stay_id, index in pairs:
        if iou < params.reassociate_iou:
            break
        if stay_id in matched or index in adopted:
            continue
        matched[stay_id] = leftovers[index]
        adopted.add(index)

    next_id = state.next_stay_id
    stays: list[Stay] = []
    spent = [p for p in state.spent if now_s - p[2] < params.rearm_s]
    muted = set(state.muted)
    for stay in state.stays:
        seen = matched.get(stay.stay_id)
        if seen is not None:
            stays.append(
                replace(
                    stay,
                    track_id=seen.track_id,
                    label=seen.label,
                    last_seen_s=now_s,
                    xyxy=seen.xyxy,
                    score=max(stay.score, seen.score),
                )
            )
        elif now_s - stay.last_seen_s > params.grace_s:
            updates.append(StayUpdate("ended", stay, now_s))
            muted.discard(stay.stay_id)
            if stay.triggered_s is not None and params.rearm_s > 0:
                spent.append((stay.xyxy, stay.zone_id, now_s))
        else:
            stays.append(stay)
    for index, obs in enumerate(leftovers):
        if index in adopted:
            continue
        stay = Stay(next_id, obs.track_id, obs.zone_id, obs.label, now_s, now_s, obs.xyxy, obs.score)
        next_id += 1
        stays.append(stay)
        updates.append(StayUpdate("started", stay, now_s))
        if any(z == obs.zone_id and box_iou(b, obs.xyxy) >= params.reassociate_iou for b, z, _ in spent):
            muted.add(stay.stay_id)

    gates = dict(state.gates)
    for i, stay in enumerate(stays):
        if (
            stay.triggered_s is None
            and stay.last_seen_s == now_s
            and stay.stay_id not in muted
            and now_s - stay.first_seen_s >= params.min_dwell_s
        ):
            gate = gates.get(stay.zone_id, Gate())
            if not may_fire(gate, now_s, params.cooldown_s, 0.0):
                continue  # in cooldown: it raises at the first analysed frame after
            gates[stay.zone_id] = Gate(last_fired_s=now_s)  # cooldown only; re-arm is per place
            stays[i] = replace(stay, triggered_s=now_s)
            updates.append(StayUpdate("triggered", stays[i], now_s))
    live = {stay.stay_id for stay in stays}
    return DwellState(
        tuple(stays), next_id, tuple(sorted(gates.items())), tuple(spent), frozenset(muted & live)
    ), updates


def _one_per_track(observations: Iterable[Observation]) -> list[Observation]:
    """Keep the first observation of each track (an object in two zones counts once)."""
    seen: dict[int, Observation] = {}
    for obs in observations:
        seen.setdefault(obs.track_id, obs)
    return list(seen.values())


def observe(
    objects: Iterable[TrackedObject],
    zones: Sequence[Zone],
    labels: frozenset[str],
    anchor: str,
    width: int,
    height: int,
) -> list[Observation]:
    """Objects with a label in `labels` whose anchor lies in one of `zones` (first zone wins)."""
    found = []
    for obj in objects:
        if obj.label not in labels:
            continue
        point = normalise(anchor_point(obj.xyxy, anchor), width, height)  # type: ignore[arg-type]
        zone = next((z for z in zones if z.contains(point)), None)
        if zone is not None:
            found.append(Observation(obj.track_id, obj.label, obj.xyxy, obj.score, zone.id))
    return found


class StayRule:
    """What every rule built on stays shares: its `params`, its `state` and how the pipeline reads them."""

    params: DwellParams
    state: DwellState

    @property
    def grace_s(self) -> float:
        return self.params.grace_s

    @property
    def middle_after_s(self) -> float:
        """Dwell at which the stay's middle evidence frame is taken (half the minimum dwell)."""
        return self.params.min_dwell_s / 2

    def live_stays(self) -> tuple[Stay, ...]:
        return self.state.stays

    def tracked_stays(self) -> tuple[Stay, ...]:
        """Live stays of detector-tracked objects (what a fresh detection can confirm or end)."""
        return tuple(stay for stay in self.state.stays if stay.track_id >= 0)

    def next_due_s(self) -> float | None:
        """Earliest stream time at which a live, detector-tracked stay would trigger if its object
        is still there (its dwell reaches the minimum, after any cooldown of its zone), or None."""
        gates = dict(self.state.gates)
        due: float | None = None
        for stay in self.tracked_stays():
            if stay.triggered_s is not None or stay.stay_id in self.state.muted:
                continue
            at = stay.first_seen_s + self.params.min_dwell_s
            gate = gates.get(stay.zone_id)
            if gate is not None and gate.last_fired_s is not None and self.params.cooldown_s > 0:
                at = max(at, gate.last_fired_s + self.params.cooldown_s)
            due = at if due is None else min(due, at)
        return due

    def finish(self, now_s: float) -> list[StayUpdate]:
        """End every live stay (the source ended, or the rule went idle); returns their `ended` updates."""
        updates = [StayUpdate("ended", stay, now_s) for stay in self.state.stays]
        self.state = DwellState((), self.state.next_stay_id, self.state.gates)
        return updates


def zones_of(rule: RuleConfig, zones: Sequence[ZoneConfig]) -> list[Zone]:
    """The `Zone`s a rule names, in its order."""
    by_id = {z.id: z for z in zones}
    return [Zone(z, tuple((float(p[0]), float(p[1])) for p in by_id[z].polygon)) for z in rule.zones]


class RuleEvaluator(Protocol):
    """What the camera pipeline needs of one rule's per-camera evaluator, whatever its kind."""

    @property
    def id(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def config(self) -> Any: ...

    @property
    def zones(self) -> list[Zone]: ...

    @property
    def needs(self) -> frozenset[str]:
        """Detector labels the rule needs on its camera."""
        ...

    @property
    def grace_s(self) -> float: ...

    @property
    def middle_after_s(self) -> float: ...

    def live_stays(self) -> tuple[Stay, ...]: ...

    def tracked_stays(self) -> tuple[Stay, ...]:
        """Live stays a fresh detection can confirm or end (detector-tracked objects)."""
        ...

    def next_due_s(self) -> float | None:
        """Earliest stream time at which the rule would raise if what it watches is still there and
        the raise rests on the detector (the frame a fresh detection must confirm), or None."""
        ...

    def evaluate(
        self, objects: Sequence[TrackedObject], now_s: float, width: int, height: int, image: np.ndarray | None = None
    ) -> list[StayUpdate]: ...

    def finish(self, now_s: float) -> list[StayUpdate]: ...
