"""The API while PostgreSQL goes away and comes back (through a killable TCP proxy): reads and
writes answer 503 "database unavailable" (never a 500, never a half-written case), `/healthz`
says degraded, and everything works again as soon as the database returns, without a restart."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from citywatch.domain.db import PING_IDLE_S, PROBE_TTL_S
from tests.ledger_support import make_ledger
from tests.support import TcpProxy


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_api_answers_503_during_an_outage_and_recovers(tmp_path: Path, database_url: str) -> None:
    proxy = TcpProxy(("127.0.0.1", 5432))
    proxy.start()
    ledger = make_ledger(tmp_path, database_url.replace(":5432/", f":{proxy.port}/"))
    client, viewer, operator = ledger.client, ledger.auth("viewer"), ledger.auth("operator")

    def hotline(ticket: str):  # type: ignore[no-untyped-def]
        body = {"source": "hotline", "ticket": ticket, "type": "litter", "description": "d", "location": "l"}
        return client.post("/api/cases", json=body, headers=operator)

    try:
        assert hotline("before").status_code == 201
        assert client.get("/api/cases", headers=viewer).json()["total"] == 1
        proxy.stop()
        for path in ("/api/cases", "/api/events", "/api/stats", "/api/cases/1"):
            down = client.get(path, headers=viewer)
            assert down.status_code == 503, path
            assert down.json()["reason"] == "unavailable" and "nothing was stored" in down.json()["detail"], path
            assert down.headers["Retry-After"]
        assert hotline("during").status_code == 503
        health = client.get("/healthz")
        assert health.status_code == 503 and health.json()["status"] == "degraded"

        proxy.start()
        answers = [client.get("/api/cases", headers=viewer).status_code for _ in range(3)]
        assert answers == [200, 200, 200]  # the pool dropped its dead connections during the outage
        assert _healthy_within(client, PROBE_TTL_S + 1)  # the write probe's answer is reused that long
        assert hotline("after").status_code == 201
        tickets = {c["hotline_ticket"] for c in client.get("/api/cases", headers=viewer).json()["items"]}
        assert tickets == {"before", "after"}  # the refused write left nothing behind

        # a restart while the API is idle: pooled connections are dead but nobody has noticed;
        # one idle past PING_IDLE_S is pinged before use, so the next request just works
        proxy.stop()
        proxy.start()
        time.sleep(PING_IDLE_S + 0.5)
        assert client.get("/api/cases", headers=viewer).status_code == 200
        assert hotline("after-restart").status_code == 201
    finally:
        proxy.stop()
        ledger.sink.close()
        ledger.database.dispose()


def _healthy_within(client, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if client.get("/healthz").status_code == 200:
            return True
        time.sleep(0.1)
    return False
