"""API bench: p50/p99 latency of the ledger's main list and stats queries under concurrent clients.

    python -m bench.api                      # 100k cases, 1M events, 20 clients; wrk, 10 s per query, medians of 3
    python -m bench.api --keep               # keep the loaded database; then reuse it:
    python -m bench.api --db cw_bench_...    # (skips the ~40 s load)
    python -m bench.api --driver python --cases 10000 --events 100000 --requests 100   # quick, no wrk

Creates a throwaway PostgreSQL database (127.0.0.1:5432, dropped at the end unless --keep),
migrates it with Alembic, bulk-loads cameras, cases and events server-side (INSERT ... SELECT
FROM generate_series: no per-row Python), runs `citywatch serve` (uvicorn, --workers) on loopback
and drives it with --clients concurrent connections: wrk (closed loop, 2 s warm-up then --seconds
measured, requests drawn from 500 random draws of the scenario) or an asyncio httpx generator
(a bounded number of requests per query). Prints a Markdown table; JSON goes to
bench/results/api-<time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import psycopg

from citywatch.domain.db import open_database
from tests.support import REPO, CitywatchProcess, write_config

DSN = os.environ.get("CITYWATCH_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")
DISTRICTS = ["新华区", "长安区", "桥西区", "裕华区", "桥东区", "鹿泉区", "栾城区", "藁城区", "正定县", "高新区"]
TYPES = ["illegal_parking", "litter", "waterlogging", "non_motor_parking"]
N_CAMERAS = 50


def load(url_db: str, n_cases: int, n_events: int) -> dict[str, float]:
    """Migrate and bulk-load; returns seconds per step."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    database = open_database(f"postgresql+psycopg://postgres@127.0.0.1:5432/{url_db}")
    database.dispose()
    timings["migrate_s"] = time.perf_counter() - started
    districts = "ARRAY[" + ",".join(f"'{d}'" for d in DISTRICTS) + "]"
    types = "ARRAY[" + ",".join(f"'{t}'" for t in TYPES) + "]"
    with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={url_db}", autocommit=True) as conn:
        step = time.perf_counter()
        conn.execute(f"""
            INSERT INTO cameras (id, name, district, street, source, enabled, updated_at)
            SELECT 'cam-' || g, 'Camera ' || g, ({districts})[1 + g % 10], '街道' || (g % 5), 'rtsp://bench/' || g,
                   true, now()
            FROM generate_series(0, {N_CAMERAS - 1}) g""")
        conn.execute(f"""
            INSERT INTO cases (type, status, priority, source, camera_id, zone_id, rule_id, location, district, street,
                               description, team, deadline, deadline_h, event_count, created_at, updated_at,
                               registered_at, dispatched_at, handled_at, verified_at, closed_at, reject_reason)
            SELECT type, status, 'normal', 'camera', cam, 'zone-' || g, 'rule-1', 'Camera / zone', district, street,
                   'bench', CASE WHEN status IN ('dispatched','handled','verified','closed') THEN '第一中队' END,
                   CASE WHEN status IN ('dispatched','handled','verified','closed') THEN t + interval '24 hours' END,
                   24, 0, t, t,
                   CASE WHEN status NOT IN ('new') THEN t + interval '10 minutes' END,
                   CASE WHEN status IN ('dispatched','handled','verified','closed') THEN t + interval '20 minutes' END,
                   CASE WHEN status IN ('handled','verified','closed') THEN t + (r2 * 30) * interval '1 hour' END,
                   CASE WHEN status IN ('verified','closed') THEN t + interval '31 hours' END,
                   CASE WHEN status = 'closed' THEN t + interval '32 hours' END,
                   CASE WHEN status = 'rejected' THEN 'false alarm' END
            FROM (
              SELECT g, 'cam-' || (g % {N_CAMERAS}) AS cam, ({districts})[1 + (g % {N_CAMERAS}) % 10] AS district,
                     '街道' || ((g % {N_CAMERAS}) % 5) AS street, ({types})[1 + floor(random() * 4)::int] AS type,
                     CASE WHEN r < 0.60 THEN 'closed' WHEN r < 0.70 THEN 'rejected' WHEN r < 0.80 THEN 'dispatched'
                          WHEN r < 0.85 THEN 'handled' WHEN r < 0.93 THEN 'registered' WHEN r < 0.98 THEN 'new'
                          ELSE 'verified' END AS status,
                     r2, now() - random() * interval '90 days' AS t
              FROM (SELECT g, random() AS r, random() AS r2 FROM generate_series(1, {n_cases}) g) s
            ) x""")
        timings["cases_s"] = time.perf_counter() - step
        step = time.perf_counter()
        conn.execute(f"""
            INSERT INTO events (uid, type, camera_id, rule_id, zone_id, label, track_id, first_seen_s, triggered_s,
                                score, box, snapshot_path, evidence, review_status, occurred_at, created_at, case_id)
            SELECT md5(g::text || random()::text)::uuid::text, c.type, c.camera_id, 'rule-1', c.zone_id, 'car',
                   g % 1000,
                   0.5, 60.5, 0.8, '[1, 2, 3, 4]'::json, NULL, '[]'::json,
                   CASE WHEN c.status = 'rejected' THEN 'rejected' WHEN c.status = 'new' THEN 'pending'
                        ELSE 'confirmed' END,
                   c.created_at + (g % 97) * interval '1 minute', c.created_at + (g % 97) * interval '1 minute', c.id
            FROM generate_series(1, {n_events}) g
            JOIN cases c ON c.id = 1 + (g % {n_cases})""")
        conn.execute(f"UPDATE cases SET event_count = {n_events} / {n_cases}, last_event_at = created_at")
        timings["events_s"] = time.perf_counter() - step
        step = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        timings["vacuum_analyze_s"] = time.perf_counter() - step
    return timings


def cursor_of_page(base: str, token: str, page: int, limit: int = 50) -> str:
    """The `after` cursor that opens page `page` (1-based) of the case list, by walking to it."""
    after = None
    for _ in range(page - 1):
        params = {"limit": limit} | ({"after": after} if after else {})
        answer = httpx.get(f"{base}/api/cases", params=params, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        answer.raise_for_status()
        after = answer.json()["next"]
    return after


def scenarios(n_cases: int, page_21_cursor: str) -> dict[str, callable]:  # type: ignore[valid-type]
    now = datetime.now(UTC)
    since_30d = (now - timedelta(days=30)).isoformat()
    return {
        "cases: list (first page)": lambda: ("/api/cases", {"limit": 50}),
        "cases: district + status": lambda: (
            "/api/cases",
            {"district": random.choice(DISTRICTS), "status": "dispatched", "limit": 50},
        ),
        "cases: overdue": lambda: ("/api/cases", {"overdue": "true", "limit": 50}),
        "cases: page 21 (offset 1000)": lambda: ("/api/cases", {"limit": 50, "offset": 1000}),
        "cases: page 21 (cursor)": lambda: ("/api/cases", {"limit": 50, "after": page_21_cursor}),
        "case detail": lambda: (f"/api/cases/{random.randint(1, n_cases)}", {}),
        "stats: last 30 days": lambda: ("/api/stats", {"since": since_30d}),
        "stats: all (90 days)": lambda: ("/api/stats", {}),
        "events: list (first page)": lambda: ("/api/events", {"limit": 50}),
        "events: by camera": lambda: ("/api/events", {"camera_id": f"cam-{random.randrange(N_CAMERAS)}", "limit": 50}),
    }


async def drive(base: str, token: str, make, clients: int, requests: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    latencies: list[float] = []
    errors = 0
    remaining = requests
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal remaining, errors
            while remaining > 0:
                remaining -= 1
                path, params = make()
                started = time.perf_counter()
                response = await client.get(path, params=params)
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    errors += 1

        for _ in range(min(clients, 20)):  # warm the connections and the workers
            path, params = make()
            await client.get(path, params=params)
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": round(statistics.median(latencies), 1),
        "p90_ms": round(latencies[int(0.90 * (len(latencies) - 1))], 1),
        "p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))], 1),
        "max_ms": round(latencies[-1], 1),
        "rps": round(len(latencies) / elapsed, 1),
    }


def _ms(text: str) -> float:
    """A wrk duration ("850.00us", "12.3ms", "1.20s") in milliseconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"not a wrk duration: {text!r}")
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def drive_wrk(base: str, token: str, make, clients: int, seconds: float) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """The same query through wrk (C, 2 threads, `clients` connections): a load generator that takes
    far less of the 2 cores than the Python one. Each request takes one of 500 draws of the
    scenario (bench/api/paths.lua), so random districts, cameras and ids stay random. A 2-second
    unmeasured run first warms connections, caches and prepared statements."""
    draws = []
    for _ in range(500):
        path, params = make()
        draws.append(path + (f"?{urlencode(params, doseq=True)}" if params else ""))
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as listing:
        listing.write("\n".join(draws) + "\n")
    env = {**os.environ, "CITYWATCH_WRK_PATHS": listing.name}
    script = str(Path(__file__).with_name("paths.lua"))

    def wrk(duration: float) -> str:
        return subprocess.run(
            [
                "wrk",
                "-t",
                str(min(2, clients)),
                "-c",
                str(clients),
                "-d",
                f"{duration:g}s",
                "--latency",
                "-s",
                script,
                "-H",
                f"Authorization: Bearer {token}",
                base,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=duration + 60,
            env=env,
        ).stdout

    try:
        wrk(2)
        out = wrk(seconds)
    finally:
        os.unlink(listing.name)
    pct = dict(re.findall(r"\b(50|75|90|99)(?:\.0+)?%\s+([\d.]+(?:us|ms|s|m))", out))
    if "99" not in pct:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests": total,
        "errors": int(bad.group(1)) if bad else 0,
        "p50_ms": round(_ms(pct["50"]), 1),
        "p90_ms": round(_ms(pct["90"]), 1),
        "p99_ms": round(_ms(pct["99"]), 1),
        "max_ms": round(_ms(re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", out).group(1)), 1),  # type: ignore[union-attr]
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
    }


def median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's median over repeated runs (the box is noisy: one run is an anecdote)."""
    merged = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    merged["runs"] = len(runs)
    return merged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=400, help="requests per query")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--db", help="reuse this already-loaded database (skip loading)")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--only", help="run only the queries whose name contains this")
    parser.add_argument(
        "--driver",
        choices=("python", "wrk"),
        default="wrk" if shutil.which("wrk") else "python",
        help="load generator: wrk (Debian package; the default where installed) or the "
        "asyncio httpx one, which takes a good part of a 2-core machine itself",
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="duration per query with --driver wrk")
    parser.add_argument("--repeat", type=int, default=3, help="rounds over all queries; the table shows medians")
    args = parser.parse_args(argv)

    name = args.db or f"cw_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = psycopg.connect(DSN, autocommit=True)
    timings: dict[str, float] = {}
    if not args.db:
        admin.execute(f'CREATE DATABASE "{name}"')
        print(f"loading {args.cases} cases and {args.events} events into {name} ...", file=sys.stderr)
        timings = load(name, args.cases, args.events)
        print(f"  load: {json.dumps({k: round(v, 1) for k, v in timings.items()})}", file=sys.stderr)
    tmp = Path(tempfile.mkdtemp(prefix="cw-bench-api-"))
    config = {
        "storage": {
            "database_url": f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}",
            "evidence_dir": str(tmp / "evidence"),
        },
        "api": {"anonymous_read": False},
        "cameras": [
            {"id": f"cam-{i}", "url": f"rtsp://bench/{i}", "district": DISTRICTS[i % 10], "street": f"街道{i % 5}"}
            for i in range(N_CAMERAS)
        ],
    }
    config_path = write_config(tmp, config, "bench.yaml")
    token = subprocess.run(
        [
            sys.executable,
            "-m",
            "citywatch.cli",
            "users",
            "add",
            "bench",
            "--role",
            "viewer",
            "--config",
            str(config_path),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    ).stdout.strip()
    results: dict[str, dict[str, float]] = {}
    try:
        with CitywatchProcess(config_path, command="serve", args=["--workers", str(args.workers)]) as server:
            base = server.base
            runs: dict[str, list[dict[str, float]]] = {}
            for repeat in range(args.repeat):
                for label, make in scenarios(args.cases, cursor_of_page(base, token, 21)).items():
                    if args.only and args.only not in label:
                        continue
                    if args.driver == "wrk":
                        run = drive_wrk(base, token, make, args.clients, args.seconds)
                    else:
                        run = asyncio.run(drive(base, token, make, args.clients, args.requests))
                    runs.setdefault(label, []).append(run)
                    print(f"  [{repeat + 1}/{args.repeat}] {label}: {run}", file=sys.stderr)
        results = {label: median_run(measured) for label, measured in runs.items()}
    finally:
        if not args.keep and not args.db:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
    load_avg = os.getloadavg()
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, {platform.python_version()}",
        "load_avg_after": load_avg,
        "cases": args.cases,
        "events": args.events,
        "clients": args.clients,
        "requests_per_query": args.requests,
        "driver": args.driver,
        "seconds_per_query": args.seconds,
        "repeat": args.repeat,
        "workers": args.workers,
        "load_timings_s": {k: round(v, 1) for k, v in timings.items()},
        "results": results,
    }
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"api-{int(time.time())}.json").write_text(json.dumps(report, ensure_ascii=False, indent=2))
    print(
        f"| query ({args.cases} cases, {args.events} events, {args.clients} clients, {args.workers} workers, "
        f"median of {args.repeat}) "
        "| p50 ms | p90 ms | p99 ms | max ms | req/s | errors |"
    )
    print("|---|---|---|---|---|---|---|")
    for label, r in results.items():
        print(
            f"| {label} | {r['p50_ms']} | {r['p90_ms']} | {r['p99_ms']} | {r['max_ms']} | {r['rps']:g} "
            f"| {int(r['errors'])} |"
        )
    print(f"load average after: {load_avg[0]:.1f} {load_avg[1]:.1f} {load_avg[2]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
