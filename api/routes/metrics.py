"""Prometheus metrics at `/metrics`: per-camera stream health and detector work.

A collector reads the live health snapshots at scrape time (no background updates, no global
registry: each app owns its `CollectorRegistry`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from vision.streams import health_snapshot

router = APIRouter(tags=["health"])

STATES = ("connecting", "online", "stalled", "offline", "error", "ended")
COUNTERS = {
    "frames_decoded": "Frames decoded",
    "frames_analysed": "Frames analysed (sent to detection and rules)",
    "frames_dropped": "Frames dropped because the consumer was slower than the camera",
    "reconnects": "Reconnections after a fault",
}
GAUGES = {
    "input_fps": "Frames per second arriving from the source",
    "analysed_fps": "Frames per second analysed",
    "last_frame_age_s": "Seconds since the last frame arrived",
}


class CameraCollector(Collector):
    """Turns `health_source()` (camera id -> StreamHealth) and detector counters into metrics."""

    def __init__(self, health_source: Callable[[], dict[str, Any]] | None,
                 detector_source: Callable[[], dict[str, dict[str, int]]] | None = None):
        self.health_source = health_source
        self.detector_source = detector_source

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        snapshots = {cid: health_snapshot(h) for cid, h in (self.health_source() if self.health_source else {}).items()}
        state = GaugeMetricFamily("citywatch_camera_state", "1 for the camera's current stream state",
                                  labels=["camera", "state"])
        for camera_id, snap in snapshots.items():
            for name in STATES:
                state.add_metric([camera_id, name], 1.0 if snap["state"] == name else 0.0)
        yield state
        for key, text in COUNTERS.items():
            family = CounterMetricFamily(f"citywatch_camera_{key}", text, labels=["camera"])
            for camera_id, snap in snapshots.items():
                family.add_metric([camera_id], float(snap.get(key) or 0))
            yield family
        for key, text in GAUGES.items():
            family = GaugeMetricFamily(f"citywatch_camera_{key}", text, labels=["camera"])
            for camera_id, snap in snapshots.items():
                if snap.get(key) is not None:
                    family.add_metric([camera_id], float(snap[key]))
            yield family
        if self.detector_source is not None:
            family = CounterMetricFamily("citywatch_detections", "Detector decisions per camera",
                                         labels=["camera", "decision"])
            for camera_id, counts in self.detector_source().items():
                for decision, count in counts.items():
                    family.add_metric([camera_id, decision], float(count))
            yield family


def make_registry(health_source: Callable[[], dict[str, Any]] | None,
                  detector_source: Callable[[], dict[str, dict[str, int]]] | None = None) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    registry.register(CameraCollector(health_source, detector_source))
    return registry


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
def metrics(request: Request) -> Response:
    """Camera states, frame counters, fps, reconnects and detector runs/skips, in Prometheus format."""
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
