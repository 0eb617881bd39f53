"""Stream tickets: a one-use, short-lived stand-in for the bearer token in the live stream's URL."""

from __future__ import annotations

import secrets
import threading
import time


class StreamTickets:
    """One-use tickets for `EventSource`, which cannot send an Authorization header: the console
    trades its bearer token for a ticket (`POST /api/stream/ticket`) and puts only the ticket in
    the stream's URL, so no token ends up in access logs."""

    def __init__(self, ttl_s: float = 60.0):
        self.ttl_s = ttl_s
        self._tickets: dict[str, float] = {}
        self._lock = threading.Lock()

    def issue(self) -> str:
        ticket = secrets.token_urlsafe(24)
        now = time.monotonic()
        with self._lock:
            self._tickets = {t: expiry for t, expiry in self._tickets.items() if expiry > now}
            self._tickets[ticket] = now + self.ttl_s
        return ticket

    def redeem(self, ticket: str) -> bool:
        """True (once) for a ticket issued less than `ttl_s` ago."""
        with self._lock:
            expiry = self._tickets.pop(ticket, None)
        return expiry is not None and expiry > time.monotonic()
