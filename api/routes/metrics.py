"""Prometheus metrics at `/metrics`: per-camera stream health and detector work, and per worker
(and node) of the engine: up, cameras, CPU and memory.

A collector reads the live health snapshots of the app's context at scrape time (no background
updates, no global registry: each app owns its `CollectorRegistry`).
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from api.deps import AppContext, Viewer
from vision.streams import StreamState, health_snapshot

router = APIRouter(tags=["health"])

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
    """Turns the context's camera health (camera id -> StreamHealth) and detector counters into metrics."""

    def __init__(self, context: AppContext):
        self.context = context

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        health = self.context.health() if self.context.health else {}
        snapshots = {cid: health_snapshot(h) for cid, h in health.items()}
        state = GaugeMetricFamily(
            "citywatch_camera_state", "1 for the camera's current stream state", labels=["camera", "state"]
        )
        for camera_id, snap in snapshots.items():
            for name in StreamState:
                state.add_metric([camera_id, name.value], 1.0 if snap["state"] == name else 0.0)
        yield state
        for key, text in COUNTERS.items():
            family = CounterMetricFamily(f"citywatch_camera_{key}", text, labels=["camera"])
            for camera_id, snap in snapshots.items():
                family.add_metric([camera_id], float(snap.get(key) or 0))
            yield family
        for key, text in GAUGES.items():
            gauge = GaugeMetricFamily(f"citywatch_camera_{key}", text, labels=["camera"])
            for camera_id, snap in snapshots.items():
                if snap.get(key) is not None:
                    gauge.add_metric([camera_id], float(snap[key]))
            yield gauge
        if self.context.detector_stats is not None:
            family = CounterMetricFamily(
                "citywatch_detections", "Detector decisions per camera", labels=["camera", "decision"]
            )
            reasons = CounterMetricFamily(
                "citywatch_detection_reasons",
                "Detection scheduling decisions per camera and reason (motion, due, lost, recheck, still, ...)",
                labels=["camera", "reason"],
            )
            for camera_id, counts in self.context.detector_stats().items():
                for decision, count in counts.items():
                    if decision.startswith("reason_"):
                        reasons.add_metric([camera_id, decision.removeprefix("reason_")], float(count))
                    else:
                        family.add_metric([camera_id, decision], float(count))
            yield family
            yield reasons
        yield from self._cluster()

    def _cluster(self) -> Iterator[GaugeMetricFamily]:
        """Per worker (and its node): up, cameras, CPU and memory; per camera: its worker and node."""
        if self.context.cluster is None or self.context.placement is None:
            return
        view = self.context.cluster()
        labels = ["worker", "node"]
        families = {
            "up": GaugeMetricFamily("citywatch_worker_up", "1 while the worker runs its cameras", labels=labels),
            "cameras": GaugeMetricFamily("citywatch_worker_cameras", "Cameras of the worker", labels=labels),
            "cpu": GaugeMetricFamily(
                "citywatch_worker_cpu_percent", "CPU of the worker (100 = one core)", labels=labels
            ),
            "rss": GaugeMetricFamily("citywatch_worker_rss_bytes", "Resident memory of the worker", labels=labels),
        }
        for worker in view["workers"]:
            key = [worker["worker"], worker["node"] or ""]
            families["up"].add_metric(key, 1.0 if worker["state"] == "up" else 0.0)
            families["cameras"].add_metric(key, float(len(worker["cameras"])))
            families["cpu"].add_metric(key, float(worker["cpu_percent"]))
            families["rss"].add_metric(key, float(worker["rss_bytes"]))
        yield from families.values()
        placed = GaugeMetricFamily(
            "citywatch_camera_assigned",
            "1 while a worker runs the camera, 0 while unassigned",
            labels=["camera", *labels],
        )
        for camera_id, where in self.context.placement().items():
            placed.add_metric(
                [camera_id, where["worker"] or "", where["node"] or ""], float(where["status"] == "assigned")
            )
        yield placed


def make_registry(context: AppContext) -> CollectorRegistry:
    """The metrics registry of one app."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(CameraCollector(context))
    return registry


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
def metrics(request: Request, user: Viewer) -> Response:
    """Camera states, frame counters, fps, reconnects and detector runs/skips, in Prometheus format
    (a reader's token, e.g. Prometheus' `authorization` setting, unless anonymous reads are on)."""
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
