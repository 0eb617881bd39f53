"""The replay half of the pipeline bench: `citywatch`'s replay against the naive loop, same footage.

`citywatch_replay` runs the scenario through `run_replay` (what `citywatch replay` does) with the
shipped defaults, collecting its events and its detector decisions by reason; `naive_replay`
(bench/pipeline/naive.py) is the every-frame reference. Both give the events compared by
`citywatch.equivalence.compare_events`.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from bench.pipeline.naive import naive_replay
from bench.pipeline.scenario import replay_config
from citywatch.config import CitywatchConfig
from citywatch.detectors import load_detector
from citywatch.domain.cameras import register_cameras
from citywatch.domain.db import open_database
from citywatch.runtime import run_replay
from citywatch.sink import EventSink


def brief(event: dict[str, Any]) -> dict[str, Any]:
    """The fields events are compared on."""
    keys = ("type", "camera_id", "zone_id", "label", "first_seen_s", "triggered_s")
    return {key: event.get(key) for key in keys}


def citywatch_replay(minutes: float, **detector: Any) -> dict[str, Any]:
    """One replay of the scenario through the runtime: wall time, events, detector decisions."""
    with tempfile.TemporaryDirectory(prefix="cw-bench-replay-") as tmp:
        config = CitywatchConfig.model_validate(replay_config(Path(tmp), minutes, **detector))
        database = open_database(config.storage.database_url)
        register_cameras(database, config.cameras)
        sink = EventSink(database, config.storage.evidence_dir)
        events: list[dict[str, Any]] = []
        model = load_detector(config.detector)  # opened before the clock starts, as for the naive loop
        started = time.perf_counter()
        runtime = run_replay(config, model, sink, on_event=lambda e: events.append(brief(e)))
        wall_s = time.perf_counter() - started
        sink.close()
        database.dispose()
    worker = next(iter(runtime.workers.values()))
    reasons = worker.gate.stats()["reasons"] if worker.gate is not None else {}
    return {
        "wall_s": wall_s,
        "stream_s": worker.pipeline.last_stream_s,
        "detections": worker.detections_run,
        "skipped": worker.detections_skipped,
        "reasons": reasons,
        "events": events,
    }


def naive(minutes: float, threads: int | None = None) -> dict[str, Any]:
    """One pass of the naive loop over the same scenario (`threads`: see `naive_replay`)."""
    with tempfile.TemporaryDirectory(prefix="cw-bench-naive-") as tmp:
        config = CitywatchConfig.model_validate(replay_config(Path(tmp), minutes))
        result = naive_replay(config, threads=threads)
    return {
        "wall_s": result.wall_s,
        "detections": result.detections,
        "decoded": result.decoded,
        "events": result.events,
    }
