"""Tracking: give each detected object an identity over time, per camera.

Wraps Roboflow's `trackers` ByteTrack (the maintained successor of supervision's tracker), driven
by stream time so that skipped or gated frames do not age tracks faster than reality. One
`CameraTracker` per camera; it is a plain object with no shared state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import supervision as sv
from trackers import ByteTrackTracker


@dataclass(frozen=True, slots=True)
class TrackedObject:
    """One tracked object in one frame: identity, Citywatch label, pixel box and score."""

    track_id: int
    label: str
    xyxy: tuple[float, float, float, float]
    score: float


class CameraTracker:
    """ByteTrack over one camera's detections; `update` returns confirmed tracks only.

    `lost_s` is how long (stream seconds) an unseen track is kept for re-identification.
    """

    def __init__(self, analysis_fps: float, lost_s: float = 5.0):
        self._tracker = ByteTrackTracker(
            lost_track_buffer=max(1, round(30 * lost_s)),  # trackers keeps buffer/30 seconds
            frame_rate=analysis_fps,
            track_activation_threshold=0.35,
            high_conf_det_threshold=0.45,
            minimum_consecutive_frames=2,
            minimum_iou_threshold=0.1,
        )

    def update(self, detections: sv.Detections, stream_s: float) -> list[TrackedObject]:
        tracked = self._tracker.update(detections, timestamp=stream_s)
        if len(tracked) == 0 or tracked.tracker_id is None:
            return []
        labels = tracked.data.get("label", np.array(["object"] * len(tracked), dtype=object))
        scores = tracked.confidence if tracked.confidence is not None else np.ones(len(tracked))
        out = [
            TrackedObject(int(tid), str(label), _box(box), float(score))
            for tid, label, box, score in zip(tracked.tracker_id, labels, tracked.xyxy, scores, strict=True)
            if int(tid) >= 0
        ]
        return sorted(out, key=lambda obj: obj.track_id)


def _box(xyxy: np.ndarray) -> tuple[float, float, float, float]:
    return float(xyxy[0]), float(xyxy[1]), float(xyxy[2]), float(xyxy[3])
