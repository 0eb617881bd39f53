"""Stream tickets: a one-use, short-lived stand-in for the bearer token in the live stream's URL."""

from __future__ import annotations

import secrets
import threading
import time


class StreamTickets:
    """One-use tickets for `EventSource`, which cannot send an Authorization header: the console
    trades its bearer token for a ticket (`POST /api/stream/ticket`) and puts only the ticket in
    the stream's URL, so no token ends up in access logs. The ticket remembers the token it was
    traded for (in this process's memory only), so the open stream can keep checking that its
    holder is still allowed (`api.routes.live`).

    Example:
        >>> tickets = StreamTickets()
        >>> ticket = tickets.issue("cw_token")
        >>> tickets.take(ticket), tickets.take(ticket)
        ((True, 'cw_token'), (False, None))
    """

    def __init__(self, ttl_s: float = 60.0, max_open: int = 10_000):
        self.ttl_s, self.max_open = ttl_s, max_open
        self._tickets: dict[str, tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    def issue(self, token: str | None = None) -> str:
        """A new ticket for the holder of `token` (None: the anonymous reader)."""
        ticket = secrets.token_urlsafe(24)
        now = time.monotonic()
        with self._lock:
            self._tickets = {t: entry for t, entry in self._tickets.items() if entry[0] > now}
            while len(self._tickets) >= self.max_open:  # bounded: the oldest go first
                self._tickets.pop(next(iter(self._tickets)))
            self._tickets[ticket] = (now + self.ttl_s, token)
        return ticket

    def take(self, ticket: str) -> tuple[bool, str | None]:
        """(True, its token) once for a ticket issued less than `ttl_s` ago; (False, None) else."""
        with self._lock:
            entry = self._tickets.pop(ticket, None)
        if entry is None or entry[0] <= time.monotonic():
            return False, None
        return True, entry[1]

    def redeem(self, ticket: str) -> bool:
        """True (once) for a ticket issued less than `ttl_s` ago."""
        return self.take(ticket)[0]
