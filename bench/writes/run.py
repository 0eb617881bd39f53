"""Write bench: `citywatch serve` under a mixed-write load, on SQLite and on PostgreSQL.

    python -m bench.writes                    # 60 s per database, 20 clients, 50 requests in flight
    python -m bench.writes --seconds 20 --db sqlite

For each database: a fresh ledger (SQLite in a temporary folder; a throwaway PostgreSQL database
at 127.0.0.1:5432, dropped at the end), an operator token, `citywatch serve` (one worker, the
default 4 request threads) on loopback, then `bench.writes.load.drive` and the audit of every
case's trail. Prints a Markdown table (requests/s, codes, p50/p99/max, hangs, trail breaks);
JSON goes to bench/results/writes-<time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import secrets
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from bench.writes.load import audit_ledger, drive
from citywatch.domain.accounts import add_user
from citywatch.domain.db import open_database
from tests.support import REPO, CitywatchProcess, demo_config_dict

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


def _measure(url: str, folder: Path, seconds: float, clients: int, concurrency: int) -> dict[str, Any]:
    database = open_database(url)
    with database.session() as session:
        token = add_user(session, "bench-operator", "operator")
    database.dispose()
    config = demo_config_dict(folder)
    config["storage"]["database_url"] = url
    path = folder / "bench.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    with CitywatchProcess(path, log_path=folder / "serve.log", command="serve") as server:
        result = asyncio.run(drive(server.base, token, seconds, clients=clients, concurrency=concurrency))
    return {**result.summary(), "trail_breaks": len(audit_ledger(url))}


def _postgres(folder: Path, seconds: float, clients: int, concurrency: int) -> dict[str, Any]:
    import psycopg  # the optional `postgres` extra: only this database needs it

    name = f"cw_bench_writes_{secrets.token_hex(3)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        return _measure(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", folder, seconds, clients, concurrency)
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args(argv)
    rows: dict[str, dict[str, Any]] = {}
    for backend in ("sqlite", "postgresql"):
        if args.db not in (backend, "both"):
            continue
        with tempfile.TemporaryDirectory(prefix="cw-bench-writes-") as tmp:
            folder = Path(tmp)
            if backend == "sqlite":
                url = f"sqlite:///{folder / 'ledger.db'}"
                rows[backend] = _measure(url, folder, args.seconds, args.clients, args.concurrency)
            else:
                rows[backend] = _postgres(folder, args.seconds, args.clients, args.concurrency)
    print("| database | s | requests/s | codes | p50 ms | p99 ms | max ms | hangs | errors | trail breaks |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for backend, row in rows.items():
        codes = ", ".join(f"{code}: {count}" for code, count in row["codes"].items())
        print(
            f"| {backend} | {row['seconds']} | {row['per_s']} | {codes} | {row['p50_ms']} | {row['p99_ms']} | "
            f"{row['max_ms']} | {row['hangs']} | {row['errors']} | {row['trail_breaks']} |"
        )
    out = REPO / "bench" / "results" / f"writes-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"machine": platform.machine(), "python": sys.version.split()[0], "args": vars(args)}
    out.write_text(json.dumps({"meta": meta, "results": rows}, indent=2))
    print(f"results: {out.relative_to(REPO)}")
    broken = any(row["hangs"] or row["errors"] or row["trail_breaks"] for row in rows.values())
    return 1 if broken else 0
