"""Resuming a dwell rule's state in a new process: move its stream times onto the new stream clock.

A restarted camera group reads its cameras afresh, so stream time starts again; a checkpointed
`DwellState` is carried onto the new clock by `rebase_dwell` (pure), which shifts every time by
the same amount (the outage takes no stream time, as a reconnect does in `StreamClock`) and
detaches the stays from their old track ids: a new tracker numbers its tracks afresh, so a restored
stay is found again by box overlap (its box is its anchor), never by a recycled id.
"""

from __future__ import annotations

from dataclasses import replace

from vision.rules.base import DwellState
from vision.rules.schedule import Gate


def _shift(value: float | None, delta: float) -> float | None:
    return None if value is None else value + delta


def rebase_dwell(state: DwellState, delta_s: float) -> DwellState:
    """`state` with every stream time moved by `delta_s` and every stay detached from its track
    (track id -stay_id, which no tracker hands out). Dwell, trigger flags, cooldowns and re-arm
    places keep their meaning: a stay that triggered before the restart never triggers again.

    Example:
        >>> from vision.rules.base import Stay
        >>> stay = Stay(1, 7, "kerb", "car", 0.5, 30.0, (0, 0, 10, 10), 0.9, triggered_s=20.5)
        >>> rebased = rebase_dwell(DwellState((stay,), 2), -29.0)
        >>> rebased.stays[0].first_seen_s, rebased.stays[0].triggered_s, rebased.stays[0].track_id
        (-28.5, -8.5, -1)
    """
    stays = tuple(
        replace(
            stay,
            track_id=-stay.stay_id,
            first_seen_s=stay.first_seen_s + delta_s,
            last_seen_s=stay.last_seen_s + delta_s,
            triggered_s=_shift(stay.triggered_s, delta_s),
        )
        for stay in state.stays
    )
    gates = tuple(
        (zone_id, Gate(_shift(gate.last_fired_s, delta_s), gate.armed, _shift(gate.clear_since_s, delta_s)))
        for zone_id, gate in state.gates
    )
    spent = tuple((box, zone_id, ended_s + delta_s) for box, zone_id, ended_s in state.spent)
    return DwellState(stays, state.next_stay_id, gates, spent, state.muted)
