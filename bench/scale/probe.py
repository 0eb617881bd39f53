"""What the scale bench samples from outside the process: `GET /api/cameras` (latency, states,
reconnects) and the process tree (CPU seconds, RSS, threads, via psutil), plus the event
latency (trigger frame to committed row) read from the SQLite ledger at the end."""

from __future__ import annotations

import os
import sqlite3
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psutil


@dataclass
class Sample:
    """One look at the running process."""

    t: float  # seconds since the API first answered
    latency_ms: float | None  # None: the request failed or timed out
    states: dict[str, int] = field(default_factory=dict)
    online_ids: frozenset[str] = frozenset()
    reconnects: int = 0
    cpu_s: float = 0.0
    rss_mb: float = 0.0
    threads: int = 0
    load1: float = 0.0


def tree_usage(pid: int) -> tuple[float, float, int]:
    """(user+system CPU seconds, RSS MiB, threads) of a process and its children."""
    cpu = rss = 0.0
    threads = 0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0, 0.0, 0
    for proc in procs:
        try:
            with proc.oneshot():
                times = proc.cpu_times()
                cpu += times.user + times.system
                rss += proc.memory_info().rss / 2**20
                threads += proc.num_threads()
        except psutil.NoSuchProcess:
            continue
    return cpu, rss, threads


def look(client: httpx.Client, base: str, pid: int, t0: float) -> Sample:
    """One sample: `GET /api/cameras` timed, then the process tree."""
    started = time.perf_counter()
    try:
        response = client.get(f"{base}/api/cameras", timeout=30.0)
        response.raise_for_status()
        cameras: list[dict[str, Any]] = response.json()
        latency: float | None = (time.perf_counter() - started) * 1000
    except (httpx.HTTPError, ValueError):
        cameras, latency = [], None
    health = [(c["id"], c.get("health") or {}) for c in cameras]
    cpu, rss, threads = tree_usage(pid)
    return Sample(
        t=time.monotonic() - t0,
        latency_ms=latency,
        states=dict(Counter(h.get("state", "none") for _, h in health)),
        online_ids=frozenset(cid for cid, h in health if h.get("state") == "online"),
        reconnects=sum(int(h.get("reconnects") or 0) for _, h in health),
        cpu_s=cpu,
        rss_mb=rss,
        threads=threads,
        load1=os.getloadavg()[0],
    )


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100, nearest rank) of values, None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def event_latencies(database: Path) -> list[float]:
    """Seconds from each event's trigger frame (`occurred_at`) to its row (`created_at`)."""
    if not database.is_file():
        return []
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT occurred_at, created_at FROM events").fetchall()
    return [
        (datetime.fromisoformat(created) - datetime.fromisoformat(occurred)).total_seconds()
        for occurred, created in rows
        if occurred and created
    ]


def summarise(samples: list[Sample], cameras: int, start_t: float) -> dict[str, Any]:
    """The figures over the samples from `start_t` on (after the warm-up)."""
    window = [s for s in samples if s.t >= start_t]
    if len(window) < 2:
        return {"error": "fewer than two samples after the start"}
    first, last = window[0], window[-1]
    span = last.t - first.t
    latencies = [s.latency_ms for s in window if s.latency_ms is not None]
    answered = [s for s in window if s.latency_ms is not None]
    online_pct = 100.0 * statistics.mean(len(s.online_ids) / cameras for s in answered) if answered else 0.0
    cores = (last.cpu_s - first.cpu_s) / span if span > 0 else 0.0
    rss = statistics.median(s.rss_mb for s in window)
    worst: Counter[str] = Counter()
    for s in answered:
        for state, count in s.states.items():
            if state != "online":
                worst[state] = max(worst[state], count)
    return {
        "window_s": round(span, 1),
        "samples": len(window),
        "failed_requests": len(window) - len(answered),
        "online_pct": round(online_pct, 2),
        "online_min": min((len(s.online_ids) for s in answered), default=0),
        "not_online_max": dict(worst),
        "states_last": last.states,
        "reconnects_after_start": last.reconnects - first.reconnects,
        "reconnects_total": last.reconnects,
        "api_p50_ms": _round(percentile(latencies, 50)),
        "api_p99_ms": _round(percentile(latencies, 99)),
        "api_max_ms": _round(max(latencies, default=None)),
        "cpu_pct": round(100 * cores, 1),
        "cpu_pct_per_camera": round(100 * cores / cameras, 3),
        "rss_mb": round(rss, 1),
        "rss_mb_per_camera": round(rss / cameras, 2),
        "threads": statistics.median(s.threads for s in window),
        "load1_median": round(statistics.median(s.load1 for s in window), 1),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
