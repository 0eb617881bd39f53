"""Aligning a recogniser's CTC output with a plate template, as pure functions: the most probable
path through the time steps that spells exactly one character per place of the template, each
place's character from those the plate grammar allows there (a Viterbi pass over "blank before
place k" and "inside place k" states; a separator counts as blank).

Greedy CTC decoding reads each run of one best class as one character, so at low resolution two
equal neighbours merge ("33" read as "3"), a faint character is lost, or a wide province character
splits in two; the reading then has the wrong length for its plate and the grammar rejects it.
The aligned path keeps what the model saw and only moves the boundaries: a place the model gave
no weight gets a tiny probability, which the reader's per-character threshold drops.

Example:
    >>> path = align_places(probs, blank_ids, [places_of_each_position])  # doctest: +SKIP
    >>> path.steps  # the time steps of each place
    [[0, 1], [3], [5], [7], [9], [11], [13]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_FLOOR = 1e-12


@dataclass(frozen=True)
class Alignment:
    """One template's best path: the time steps of each place and the path's log probability."""

    steps: list[list[int]]
    log_probability: float


def align_places(probs: np.ndarray, blank_ids: Sequence[int], places: Sequence[np.ndarray]) -> Alignment | None:
    """The best path through `probs` (time × classes) with one character per entry of `places`
    (each an array of the class indices that place allows), blank or separator classes
    (`blank_ids`) between and around them; None when there are fewer time steps than places or a
    place allows no class. A place may follow the previous one without a blank between (the
    merged-neighbours case), at no extra cost."""
    steps_total, count = probs.shape[0], len(places)
    if count == 0 or steps_total < count or any(p.size == 0 for p in places):
        return None
    blank = np.log(np.maximum(probs[:, list(blank_ids)].sum(axis=1), _FLOOR))
    emit = np.log(np.maximum(np.stack([probs[:, p].max(axis=1) for p in places], axis=1), _FLOOR))
    states = 2 * count + 1  # even s = 2k: blank before place k (s = 2*count: after the last); odd s = 2k+1: place k
    inside = np.arange(states) % 2 == 1
    place_of = np.minimum(np.arange(states) // 2, count - 1)
    score = np.full(states, -np.inf)
    score[0], score[1] = blank[0], emit[0, 0]
    back = np.zeros((steps_total, states), np.int64)
    for t in range(1, steps_total):
        stay = score
        one = np.concatenate([[-np.inf], score[:-1]])
        two = np.concatenate([[-np.inf, -np.inf], score[:-2]])
        two[~inside] = -np.inf  # a blank state is entered from the place before it, not skipped to
        candidates = np.stack([stay, one, two])
        choice = candidates.argmax(axis=0)
        best = candidates.max(axis=0)
        score = best + np.where(inside, emit[t, place_of], blank[t])
        back[t] = np.arange(states) - choice
    end = states - 1 if score[states - 1] >= score[states - 2] else states - 2
    if not np.isfinite(score[end]):
        return None
    total = float(score[end])
    steps: list[list[int]] = [[] for _ in range(count)]
    state = end
    for t in range(steps_total - 1, -1, -1):
        if state % 2 == 1:
            steps[state // 2].append(t)
        state = int(back[t, state]) if t > 0 else state
    if any(not s for s in steps):
        return None
    return Alignment([sorted(s) for s in steps], total)


def best_alignment(
    probs: np.ndarray, blank_ids: Sequence[int], templates: Sequence[Sequence[np.ndarray]]
) -> tuple[int, Alignment] | None:
    """The most probable of the templates' alignments: (template index, alignment), or None when
    no template fits."""
    found = [(i, a) for i, t in enumerate(templates) if (a := align_places(probs, blank_ids, t)) is not None]
    return max(found, key=lambda item: item[1].log_probability) if found else None
