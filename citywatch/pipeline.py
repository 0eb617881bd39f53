"""The per-camera pipeline: detections of one analysed frame in, events out.

`CameraPipeline` holds one camera's analysis state (tracker, rule evaluators, evidence of live
stays) as a plain object with no globals, so it can live in a worker process or a Ray actor of its
own; `process(frame, detections)` is deterministic. It decides per frame which rules run (the
current mode and each rule's schedule), advances tracking and the active rules, and turns their
stay updates into `EventRecord`s (with entry, middle and trigger evidence) and `EventEnd`s.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import supervision as sv

from citywatch.config import CameraConfig, CitywatchConfig
from citywatch.domain.wording import evidence_caption
from citywatch.events import EventEnd, EventRecord, Output
from citywatch.modes import CameraPlan, ModeHolder
from vision.evidence import annotate, encode_jpeg
from vision.frames import Frame
from vision.labels import select
from vision.motion import DetectionNeeds
from vision.plates.watch import PlateWatch
from vision.rules import DwellState, RuleEvaluator, StayRule, StayUpdate, build_rules
from vision.rules.resume import rebase_dwell
from vision.rules.schedule import schedule_active, wall_time
from vision.track import CameraTracker
from vision.zones import Zone


@dataclass(frozen=True)
class PipelineSnapshot:
    """One camera's analysis state at a frame, as a checkpoint (picklable, no frames): every stay
    rule's `DwellState` (live stays, trigger flags, cooldowns), the evidence JPEGs of live stays,
    the uid of each triggered stay's event and the clear-zone timers, at stream time `stream_s`."""

    camera_id: str
    stream_s: float
    rules: dict[str, DwellState]
    entry_jpeg: dict[tuple[str, int], bytes] = field(default_factory=dict, repr=False)
    middle_jpeg: dict[tuple[str, int], bytes] = field(default_factory=dict, repr=False)
    event_uid: dict[tuple[str, int], str] = field(default_factory=dict)
    stay_uid: dict[tuple[str, int], str] = field(default_factory=dict)
    clear_from: dict[tuple[str, str], float] = field(default_factory=dict)


class CameraPipeline:
    """Per-camera analysis state: tracker + rules + evidence of live stays.

    Which rules run is decided per analysed frame: a rule is active when the current mode (from
    the runtime's `ModeHolder`, consulted every frame, so a switch applies from the next analysed
    frame on) includes it and its schedule covers the frame's wall time (`vision.schedule`). A
    rule that goes idle ends its live stays (their events get their end) and starts afresh when it
    becomes active again. Evidence: entry, middle (at half the rule's minimum time) and trigger.

    Example:
        >>> pipeline = CameraPipeline(camera)  # doctest: +SKIP
        >>> outputs = pipeline.process(frame, detections)  # EventRecord / EventEnd  # doctest: +SKIP
    """

    def __init__(
        self,
        camera: CameraConfig,
        max_pending_evidence: int = 256,
        *,
        config: CitywatchConfig | None = None,
        modes: ModeHolder | None = None,
        plates: PlateWatch | None = None,
    ):
        self.camera = camera
        #: Reads the plates of vehicles staying in zones of rules with `plates: true` (None: no reader).
        self.plates = plates if any(getattr(rule, "plates", False) for rule in camera.rules) else None
        self.config = config
        self.modes = modes
        self.timezone = config.timezone if config is not None else "Asia/Shanghai"
        self.rules = build_rules(camera.rules, camera.zones)
        self.labels = frozenset().union(*(rule.needs for rule in self.rules)) if self.rules else frozenset()
        grace = max((rule.grace_s for rule in self.rules), default=10.0)
        self.tracker = CameraTracker(camera.analysis_fps, lost_s=max(2.0, grace))
        self.max_pending_evidence = max_pending_evidence
        self._entry_jpeg: dict[tuple[str, int], bytes] = {}
        self._middle_jpeg: dict[tuple[str, int], bytes] = {}
        self._event_uid: dict[tuple[str, int], str] = {}
        #: The uid a live stay's event will have, chosen when the stay starts and checkpointed, so an
        #: event raised again after a restart from an older checkpoint is the same event (stored once).
        self._stay_uid: dict[tuple[str, int], str] = {}
        self.last_stream_s = 0.0
        self._mode_version = -1
        #: (rule type, zone id) -> stream time since which the zone has had no live stay of that rule.
        self._clear_from: dict[tuple[str, str], float] = {}
        #: (stream_s, plan) at every re-plan (mode switch), oldest first.
        self.plan_log: list[tuple[float, CameraPlan]] = []
        self.plan = CameraPlan("normal", frozenset(rule.id for rule in self.rules), camera.analysis_fps, 0)
        self._active: set[str] = set(self.plan.active_rules)
        self._resume: PipelineSnapshot | None = None
        self._sync_mode()

    # What the runtime reads: rate, detector priority and labels of the current plan.
    @property
    def analysis_fps(self) -> float:
        return self.plan.analysis_fps

    @property
    def priority(self) -> int:
        return self.plan.priority

    @property
    def active_rule_ids(self) -> list[str]:
        """Rules running now (in the mode and inside their schedule)."""
        return [rule.id for rule in self.rules if rule.id in self._active]

    @property
    def needed_labels(self) -> frozenset[str]:
        """Detector labels the active rules need (a DetectorSet runs only the models producing them)."""
        active = [rule for rule in self.rules if rule.id in self._active]
        return frozenset().union(*(rule.needs for rule in active)) if active else frozenset()

    def detection_needs(self) -> DetectionNeeds:
        """What the active rules need from the detector at the next analysed frame (for the
        camera's `MotionGate`): their zones, the boxes of their detector-tracked stays, the
        earliest due trigger and the oldest last sighting. Pure; reads the state after the last
        `process`."""
        active = [rule for rule in self.rules if rule.id in self._active]
        zones = tuple(zone.polygon for rule in active for zone in rule.zones)
        stays = [stay for rule in active for stay in rule.tracked_stays()]
        due = [t for t in (rule.next_due_s() for rule in active) if t is not None]
        return DetectionNeeds(
            zones=tuple(dict.fromkeys(zones)),
            boxes=tuple(stay.xyxy for stay in stays),
            due_s=min(due, default=None),
            stale_since_s=min((stay.last_seen_s for stay in stays), default=None),
            labels=bool(self.needed_labels),
        )

    def status(self, history: int = 120) -> dict[str, Any]:
        """JSON-ready rule status of this camera: mode, rate, priority, active rules and, for
        waterlogging rules, the recent wet fraction per zone as [stream_s, fraction] pairs."""
        levels: dict[str, dict[str, list[list[float]]]] = {}
        for rule in self.rules:
            samples = list(getattr(rule, "history", ()))[-history:]
            if samples:
                per_zone: dict[str, list[list[float]]] = {}
                for t, zone_id, fraction in samples:
                    per_zone.setdefault(zone_id, []).append([round(t, 3), round(fraction, 4)])
                levels[rule.id] = per_zone
        return {
            "mode": self.plan.mode,
            "analysis_fps": self.analysis_fps,
            "priority": "high" if self.priority else "normal",
            "active_rules": self.active_rule_ids,
            "idle_rules": [rule.id for rule in self.rules if rule.id not in self._active],
            "levels": levels,
        }

    def _sync_mode(self) -> None:
        if self.modes is None:
            return
        _, version = self.modes.current()
        if version != self._mode_version:
            self._mode_version = version
            self.plan = self.modes.plan(self.camera)
            self.plan_log.append((self.last_stream_s, self.plan))

    def plan_changed(self) -> bool:
        """True when the operating mode changed since this pipeline last planned (the switch
        applies at its next analysed frame): the runtime then analyses at once rather than hold."""
        return self.modes is not None and self.modes.current()[1] != self._mode_version

    def snapshot(self) -> PipelineSnapshot:
        """This camera's state now, for a checkpoint (call between two `process` calls). Only the
        stay rules (parking, litter) carry state across a restart; a water level starts afresh."""
        if self._resume is not None:  # restored but no frame yet: the checkpoint still stands
            return self._resume
        return PipelineSnapshot(
            self.camera.id,
            self.last_stream_s,
            {rule.id: rule.state for rule in self.rules if isinstance(rule, StayRule)},
            dict(self._entry_jpeg),
            dict(self._middle_jpeg),
            dict(self._event_uid),
            dict(self._stay_uid),
            dict(self._clear_from),
        )

    def restore(self, snapshot: PipelineSnapshot) -> None:
        """Resume from a checkpoint in a new process. Applied at the first analysed frame, whose
        stream time continues the checkpoint's (`rebase_dwell`): the outage takes no stream time,
        so a parked vehicle's dwell goes on and a stay that raised its event never raises again."""
        self._resume = snapshot

    def _apply_resume(self, now_s: float) -> None:
        snapshot, self._resume = self._resume, None
        assert snapshot is not None
        delta = now_s - snapshot.stream_s
        for rule in self.rules:
            state = snapshot.rules.get(rule.id)
            if state is not None and isinstance(rule, StayRule):
                rule.state = rebase_dwell(state, delta)
        self._entry_jpeg.update(snapshot.entry_jpeg)
        self._middle_jpeg.update(snapshot.middle_jpeg)
        self._event_uid.update(snapshot.event_uid)
        self._stay_uid.update(snapshot.stay_uid)
        self._clear_from.update({key: since + delta for key, since in snapshot.clear_from.items()})

    def process(self, frame: Frame, detections: sv.Detections) -> list[Output]:
        """Advance tracking and every active rule by one analysed frame."""
        if self._resume is not None:
            self._apply_resume(frame.stream_s)
        self.last_stream_s = frame.stream_s
        self._sync_mode()
        camera = self.camera
        wall = wall_time(frame.stream_s, frame.wall_s, self.timezone, camera.start_time, camera.is_file)
        outputs: list[Output] = []
        active: set[str] = set()
        for rule in self.rules:
            if rule.id in self.plan.active_rules and schedule_active(rule.config.schedule, wall):
                active.add(rule.id)
            elif rule.id in self._active:  # went idle: end its stays
                outputs.extend(self._finish_rule(rule, frame.stream_s, "rule_idle"))
        self._active = active
        labels = self.needed_labels
        if len(detections) and "label" in detections.data:
            keep = np.array([str(label) in labels for label in detections.data["label"]], dtype=bool)
            detections = select(detections, keep)
        objects = self.tracker.update(detections, frame.stream_s)
        for rule in self.rules:
            if rule.id not in active:
                continue
            for update in rule.evaluate(objects, frame.stream_s, frame.width, frame.height, frame.image):
                output = self._handle(rule.id, rule.type, rule.zones, update, frame, wall.timestamp())
                if output is not None:
                    outputs.append(output)
            self._middle_evidence(rule, frame)
            if self.plates is not None and getattr(rule.config, "plates", False):
                self._read_plates(rule, frame, self.plates)
        return outputs

    def clear_zones(self, now_s: float, window_s: float) -> list[tuple[str, str]]:
        """(zone id, rule type) of every active rule's zone that has held none of the rule's
        objects for at least `window_s` stream seconds up to `now_s`: the evidence behind
        automatic verification (核查) of handled cases. Deterministic, no I/O."""
        clear = []
        for rule in self.rules:
            if rule.id not in self._active:
                continue
            occupied = {stay.zone_id for stay in rule.live_stays()}
            for zone in rule.zones:
                key = (rule.type, zone.id)
                if zone.id in occupied:
                    self._clear_from.pop(key, None)
                    continue
                since = self._clear_from.setdefault(key, now_s)
                if now_s - since >= window_s:
                    clear.append((zone.id, rule.type))
        return sorted(set(clear))

    def finish(self) -> list[Output]:
        """The source ended: close every live stay."""
        outputs: list[Output] = []
        for rule in self.rules:
            outputs.extend(self._finish_rule(rule, self.last_stream_s, "source_ended"))
        return outputs

    def _finish_rule(self, rule: RuleEvaluator, now_s: float, reason: str) -> list[Output]:
        outputs: list[Output] = []
        for update in rule.finish(now_s):
            output = self._handle(rule.id, rule.type, rule.zones, update, None, 0.0, end_reason=reason)
            if output is not None:
                outputs.append(output)
        return outputs

    def _middle_evidence(self, rule: RuleEvaluator, frame: Frame) -> None:
        for stay in rule.live_stays():
            key = (rule.id, stay.stay_id)
            due = stay.triggered_s is None and stay.last_seen_s == frame.stream_s and key not in self._middle_jpeg
            if due and stay.dwell_s >= rule.middle_after_s and len(self._middle_jpeg) < self.max_pending_evidence:
                caption = evidence_caption(stay.label, rule.type)
                self._middle_jpeg[key] = encode_jpeg(annotate(frame.image, rule.zones, stay.xyxy, caption))

    def _read_plates(self, rule: RuleEvaluator, frame: Frame, plates: PlateWatch) -> None:
        """Read the plate of each vehicle seen on this frame, as often as the `plates:` section
        says: before its stay triggers (the event carries what the readings agreed on by then) and
        after, while they have not agreed yet (the stay's end then brings the plate)."""
        for stay in rule.live_stays():
            key = (rule.id, stay.stay_id)
            if stay.last_seen_s != frame.stream_s or not plates.due(key, frame.stream_s):
                continue  # the cheap tests first: the vote below runs only when a reading is due
            if stay.triggered_s is None or plates.plate(key) is None:
                plates.observe(key, frame.image, stay.xyxy, frame.stream_s)

    def _handle(
        self,
        rule_id: str,
        rule_type: str,
        zones: list[Zone],
        update: StayUpdate,
        frame: Frame | None,
        wall_s: float,
        end_reason: str = "left",
    ) -> Output | None:
        stay, key = update.stay, (rule_id, update.stay.stay_id)
        caption = evidence_caption(stay.label, rule_type)
        if update.kind == "started":
            self._stay_uid[key] = str(uuid.uuid4())
        if update.kind == "started" and frame is not None:
            if len(self._entry_jpeg) < self.max_pending_evidence:
                self._entry_jpeg[key] = encode_jpeg(annotate(frame.image, zones, stay.xyxy, caption))
            return None
        if update.kind == "triggered" and frame is not None:
            uid = self._stay_uid.pop(key, None) or str(uuid.uuid4())
            self._event_uid[key] = uid
            images = {"trigger": encode_jpeg(annotate(frame.image, zones, stay.xyxy, caption))}
            entry = self._entry_jpeg.pop(key, None)
            if entry is not None:
                images["entry"] = entry
            middle = self._middle_jpeg.pop(key, None)
            if middle is not None:
                images["middle"] = middle
            return EventRecord(
                uid=uid,
                type=rule_type,
                camera_id=self.camera.id,
                rule_id=rule_id,
                zone_id=stay.zone_id,
                label=stay.label,
                track_id=stay.track_id,
                first_seen_s=stay.first_seen_s,
                triggered_s=update.at_s,
                score=stay.score,
                box=stay.xyxy,
                occurred_wall_s=wall_s or frame.wall_s,
                images=images,
                plate=self.plates.plate(key) if self.plates is not None else None,
            )
        if update.kind == "ended":
            plate = self.plates.plate(key) if self.plates is not None else None
            if self.plates is not None:
                self.plates.forget(key)
            self._stay_uid.pop(key, None)
            self._entry_jpeg.pop(key, None)
            self._middle_jpeg.pop(key, None)
            uid = self._event_uid.pop(key, "")
            if uid:
                duration = stay.last_seen_s - stay.first_seen_s
                return EventEnd(uid, self.camera.id, stay.last_seen_s, duration, end_reason, plate)
        return None
