"""The dwell logic behind illegal parking, as pure functions over synthetic tracks (no video)."""

from __future__ import annotations

from vision.labels import expand_labels
from vision.rules import DwellParams, DwellState, Observation, observe, step_dwell
from vision.track import TrackedObject
from vision.zones import Zone

VAN = (651.0, 42.0, 725.0, 99.0)
PARAMS = DwellParams(min_dwell_s=20.0, grace_s=5.0)


def run(frames: list[tuple[float, list[Observation]]], params: DwellParams = PARAMS):
    state, updates = DwellState(), []
    for now, observations in frames:
        state, new = step_dwell(state, observations, now, params)
        updates.extend(new)
    return state, updates


def obs(track_id: int, box=VAN, label: str = "truck") -> Observation:
    return Observation(track_id, label, box, 0.8, "kerb")


def kinds(updates) -> list[tuple[str, float]]:
    return [(u.kind, u.at_s) for u in updates]


def test_triggers_once_after_min_dwell() -> None:
    frames = [(t / 2, [obs(1)]) for t in range(0, 100)]  # 2 fps for 50 s
    state, updates = run(frames)
    assert kinds(updates) == [("started", 0.0), ("triggered", 20.0)]
    assert state.stays[0].triggered_s == 20.0


def test_short_stay_never_triggers() -> None:
    frames = [(t / 2, [obs(1)]) for t in range(0, 30)] + [(t / 2, []) for t in range(30, 60)]
    _, updates = run(frames)
    assert [u.kind for u in updates] == ["started", "ended"]


def test_occlusion_within_grace_keeps_the_timer() -> None:
    present = [(t / 2, [obs(1)]) for t in range(0, 20)]  # 0..9.5 s
    hidden = [(t / 2, []) for t in range(20, 28)]  # 10..13.5 s unseen (< grace 5 s)
    back = [(t / 2, [obs(1)]) for t in range(28, 50)]
    _, updates = run(present + hidden + back)
    assert kinds(updates) == [("started", 0.0), ("triggered", 20.0)]


def test_track_id_switch_is_the_same_stay() -> None:
    frames = [(t / 2, [obs(1)]) for t in range(0, 20)]
    frames += [(t / 2, [obs(7, (652.0, 43.0, 726.0, 100.0))]) for t in range(20, 50)]
    state, updates = run(frames)
    assert kinds(updates) == [("started", 0.0), ("triggered", 20.0)]
    assert state.stays[0].track_id == 7 and state.stays[0].first_seen_s == 0.0


def test_id_switch_elsewhere_is_a_new_object() -> None:
    other = (100.0, 300.0, 160.0, 350.0)
    frames = [(t / 2, [obs(1)]) for t in range(0, 10)] + [(t / 2, [obs(1), obs(2, other)]) for t in range(10, 12)]
    state, updates = run(frames)
    assert [u.kind for u in updates] == ["started", "started"]
    assert len(state.stays) == 2


def test_leaving_and_returning_after_grace_is_a_new_stay() -> None:
    frames = [(t / 2, [obs(1)]) for t in range(0, 50)]  # triggers at 20 s
    frames += [(t / 2, []) for t in range(50, 70)]  # gone 10 s > grace: stay ends
    frames += [(t / 2, [obs(1)]) for t in range(70, 120)]  # back: new stay, triggers 20 s later
    _, updates = run(frames)
    assert kinds(updates) == [
        ("started", 0.0),
        ("triggered", 20.0),
        ("ended", 30.0),
        ("started", 35.0),
        ("triggered", 55.0),
    ]
    ended = updates[2].stay
    assert ended.first_seen_s == 0.0 and ended.last_seen_s == 24.5


def test_trigger_needs_the_object_in_view_now() -> None:
    frames = [(t / 2, [obs(1)]) for t in range(0, 38)] + [(19.0, []), (19.5, []), (20.0, []), (20.5, [obs(1)])]
    _, updates = run(frames)
    assert kinds(updates) == [("started", 0.0), ("triggered", 20.5)]


def test_observe_uses_the_anchor_and_labels() -> None:
    zone = Zone("kerb", ((0.83, 0.05), (0.94, 0.05), (0.94, 0.25), (0.83, 0.25)))
    van = TrackedObject(1, "truck", VAN, 0.8)  # bottom centre (688, 99) -> (0.896, 0.172): inside
    car = TrackedObject(2, "car", (732.0, 51.0, 767.0, 94.0), 0.8)  # bottom centre x 0.974: outside
    person = TrackedObject(3, "person", (660.0, 60.0, 680.0, 120.0), 0.9)  # inside, wrong label
    labels = expand_labels(["car", "truck", "bus", "motorcycle"])
    found = observe([van, car, person], [zone], labels, "bottom_center", 768, 576)
    assert [o.track_id for o in found] == [1]
    tall = TrackedObject(4, "car", (650.0, 10.0, 700.0, 200.0), 0.8)  # centre inside, bottom outside
    assert observe([tall], [zone], labels, "bottom_center", 768, 576) == []
    assert [o.track_id for o in observe([tall], [zone], labels, "center", 768, 576)] == [4]


def test_label_groups_expand() -> None:
    assert expand_labels(["vehicle"]) == {"car", "truck", "bus", "motorcycle"}
    assert "e-bike" in expand_labels(["non_motor"])
