"""Who is calling: bearer tokens checked against the accounts of the domain, with a short cache.

Each app remembers tokens it has checked for `TokenCache.ttl_s` seconds (5 s), so a busy console
costs one lookup per token per few seconds, not one per request. Revoking a user through this
app forgets its tokens at once; another worker process stops accepting them within the TTL.
Users, roles and token hashing are the domain's (`citywatch.domain.accounts`).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from citywatch.domain.accounts import Principal, find_by_hash, hash_token
from citywatch.domain.db import Database

#: The caller of a request without a token, when `api.anonymous_read` allows it.
ANONYMOUS = Principal(name="anonymous", role="viewer")


class TokenCache:
    """Token hash → (`Principal`, expiry) for `ttl_s` seconds; bounded; thread-safe. Only tokens
    that were found are kept, so a bad token is checked against the database every time."""

    def __init__(self, ttl_s: float = 5.0, max_entries: int = 4096):
        self.ttl_s, self.max_entries = ttl_s, max_entries
        self._entries: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    def cached(self, token: str) -> Principal | None:
        """The holder of `token` when a fresh check of it is cached; None when it must be looked up."""
        with self._lock:
            hit = self._entries.get(hash_token(token))
        return hit[0] if hit is not None and hit[1] > time.monotonic() else None

    def lookup(self, database: Database, token: str) -> Principal | None:
        """The holder of `token` (cached), or None when it is unknown, revoked or disabled."""
        key = hash_token(token)
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
        if hit is not None and hit[1] > now:
            return hit[0]
        with database.read_session() as session:
            principal = find_by_hash(session, key)
        with self._lock:
            if principal is None:
                self._entries.pop(key, None)
            elif self.ttl_s > 0:
                if len(self._entries) >= self.max_entries:
                    self._entries.pop(next(iter(self._entries)))
                self._entries[key] = (principal, now + self.ttl_s)
        return principal

    def clear(self) -> None:
        """Forget every token (after a revocation or a role change)."""
        with self._lock:
            self._entries.clear()


def token_cache(extras: dict[str, Any]) -> TokenCache:
    """The token cache of one app (kept in `AppContext.extras`)."""
    cache = extras.get("token_cache")
    if cache is None:
        cache = extras.setdefault("token_cache", TokenCache())
    return cache
