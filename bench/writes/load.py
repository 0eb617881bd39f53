"""A mixed-write load on the case ledger over HTTP, and the integrity check of what it left.

`drive()` runs `concurrency` request loops spread over `clients` HTTP connections pools for
`seconds`: each loop opens hotline cases and moves random known cases to a random next status
(so steps race: several loops often try the same step of the same case). Every request has a
`timeout_s` limit; one that is not answered in time counts as a hang. `audit_ledger()` reads the
database afterwards: every case's audit trail must be one unbroken chain (each step starts where
the previous one ended), so a step with two winners shows as a break. Used by
tests/test_write_path.py (short) and bench/writes/run.py (the 60 s figures).
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import create_engine, text

#: The next statuses to try from each status, with the fields a step needs.
STEPS: dict[str, tuple[str, ...]] = {
    "registered": ("dispatched", "rejected"),
    "dispatched": ("handled",),
    "handled": ("verified", "dispatched"),
    "verified": ("closed",),
    "closed": ("dispatched",),
}


@dataclass
class LoadResult:
    """What a load run saw: answers by status code, latencies (s), hangs and transport errors."""

    seconds: float
    codes: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    hangs: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(self.codes.values()) + self.hangs + len(self.errors)

    def percentile(self, q: float) -> float:
        """The q-th percentile latency in seconds (0 with no answers)."""
        if not self.latencies:
            return 0.0
        if len(self.latencies) == 1:
            return self.latencies[0]
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[max(0, min(98, int(q) - 1))]

    def summary(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 1),
            "requests": self.requests,
            "per_s": round(self.requests / self.seconds, 1) if self.seconds else 0.0,
            "codes": dict(sorted(self.codes.items())),
            "p50_ms": round(self.percentile(50) * 1000, 1),
            "p99_ms": round(self.percentile(99) * 1000, 1),
            "max_ms": round(max(self.latencies, default=0.0) * 1000, 1),
            "hangs": self.hangs,
            "errors": len(self.errors),
        }


async def drive(
    base: str, token: str, seconds: float, clients: int = 20, concurrency: int = 50, timeout_s: float = 10.0
) -> LoadResult:
    """Run the mixed-write load against `base` with an operator `token`; see the module doc."""
    result = LoadResult(seconds=seconds)
    known: dict[int, str] = {}  # case id -> the status the load last saw it in
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=max(1, concurrency // clients + 1))
    pools = [
        httpx.AsyncClient(base_url=base, headers=headers, timeout=timeout_s, limits=limits) for _ in range(clients)
    ]
    deadline = time.monotonic() + seconds
    rng = random.Random(20261202)

    async def one(client: httpx.AsyncClient) -> None:
        if not known or rng.random() < 0.3:
            body = {
                "source": "hotline",
                "ticket": f"load-{uuid.uuid4().hex[:12]}",
                "type": "litter",
                "description": "load test",
                "location": "loop",
            }
            answer = await _timed(result, client.post("/api/cases", json=body))
            if answer is not None and answer.status_code == 201:
                known[answer.json()["id"]] = answer.json()["status"]
            return
        case_id = rng.choice(list(known))
        target = rng.choice(STEPS.get(known[case_id], ("dispatched",)))
        body = {"to": target, "note": "load", "team": "第一中队"}
        answer = await _timed(result, client.post(f"/api/cases/{case_id}/transitions", json=body))
        if answer is not None and answer.status_code == 200:
            known[case_id] = answer.json()["case"]["status"]
        elif answer is not None and answer.status_code == 409:
            current = await _timed(result, client.get(f"/api/cases/{case_id}"))
            if current is not None and current.status_code == 200:
                known[case_id] = current.json()["status"]
        if known.get(case_id) == "rejected":
            known.pop(case_id, None)

    async def loop(index: int) -> None:
        client = pools[index % clients]
        while time.monotonic() < deadline:
            await one(client)

    started = time.monotonic()
    try:
        await asyncio.gather(*(loop(i) for i in range(concurrency)))
    finally:
        for pool in pools:
            await pool.aclose()
    result.seconds = time.monotonic() - started
    return result


async def _timed(result: LoadResult, request: Any) -> httpx.Response | None:
    started = time.perf_counter()
    try:
        answer = await request
    except httpx.TimeoutException:
        result.hangs += 1
        return None
    except httpx.HTTPError as exc:
        result.errors.append(f"{type(exc).__name__}: {exc}")
        return None
    result.latencies.append(time.perf_counter() - started)
    result.codes[answer.status_code] += 1
    return answer


def audit_ledger(database_url: str) -> list[str]:
    """Breaks in the cases' audit trails: a step that does not start where the previous one ended
    (two winners of one step), or a case whose status is not where its trail ends. [] when sound."""
    engine = create_engine(database_url)
    problems: list[str] = []
    try:
        with engine.connect() as connection:
            statuses = dict(connection.execute(text("SELECT id, status FROM cases")).all())
            trail: dict[int, str | None] = {}
            rows = connection.execute(
                text(
                    "SELECT id, case_id, action, from_status, to_status FROM case_actions "
                    "WHERE action IN ('open', 'transition') ORDER BY case_id, id"
                )
            )
            for action_id, case_id, action, before, after in rows:
                if action == "transition" and trail.get(case_id) != before:
                    problems.append(f"case {case_id}: step {action_id} {before}->{after} after {trail.get(case_id)}")
                trail[case_id] = after
            for case_id, status in statuses.items():
                if trail.get(case_id) != status:
                    problems.append(f"case {case_id}: status {status} but its trail ends at {trail.get(case_id)}")
    finally:
        engine.dispose()
    return problems
