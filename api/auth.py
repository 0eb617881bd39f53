"""Users, roles and bearer tokens: who may read, work cases, or administer.

Roles are ordered: `viewer` (read) < `operator` (review, register, dispatch, verify, close) <
`admin` (cameras, modes, users). A token is 32 random bytes (URL-safe base64); only its SHA-256
is stored. A slow password hash (bcrypt, argon2) protects *low-entropy* secrets against guessing;
a 256-bit random token cannot be guessed, so one fast SHA-256 is as safe and lets every request
be checked by an indexed equality lookup instead of a costly hash per request.

Each app remembers tokens it has checked for `TokenCache.ttl_s` seconds (5 s), so a busy console
costs one lookup per token per few seconds, not one per request. Revoking a user through this
app forgets its tokens at once; another worker process stops accepting them within the TTL.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db import Database
from api.models import ApiToken, User

ROLES: tuple[str, ...] = ("viewer", "operator", "admin")
_RANK = {role: rank for rank, role in enumerate(ROLES)}


@dataclass(frozen=True)
class Principal:
    """The caller of a request: a user (or the anonymous viewer) with its role."""

    name: str
    role: str
    id: int | None = None

    @property
    def anonymous(self) -> bool:
        """True for the anonymous reader allowed by `api.anonymous_read`."""
        return self.id is None

    def has_role(self, role: str) -> bool:
        """True when this caller's role is `role` or above it."""
        return _RANK[self.role] >= _RANK[role]


ANONYMOUS = Principal(name="anonymous", role="viewer")


def hash_token(token: str) -> str:
    """The stored form of a token: hex SHA-256."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh bearer token (32 random bytes, URL-safe base64, 43 characters)."""
    return secrets.token_urlsafe(32)


def add_user(session: Session, name: str, role: str) -> str:
    """Create user `name` with `role` (or give an existing one a new role) and return a new token."""
    if role not in _RANK:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    user = session.scalars(select(User).where(User.name == name)).first()
    if user is None:
        user = User(name=name, role=role, disabled=False)
        session.add(user)
        session.flush()
    else:
        user.role, user.disabled = role, False
    token = new_token()
    session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), revoked=False))
    session.flush()
    return token


def revoke_user(session: Session, name: str) -> bool:
    """Disable a user and revoke every token of theirs; False when there is no such user."""
    user = session.scalars(select(User).where(User.name == name)).first()
    if user is None:
        return False
    user.disabled = True
    for token in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)):
        token.revoked = True
    return True


def authenticate(session: Session, token: str) -> Principal | None:
    """The user holding this token, or None when it is unknown, revoked or the user is disabled."""
    return _find(session, hash_token(token))


def _find(session: Session, token_hash: str) -> Principal | None:
    row = session.execute(
        select(User.id, User.name, User.role)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == token_hash, ApiToken.revoked.is_(False), User.disabled.is_(False))
    ).first()
    return Principal(name=row.name, role=row.role, id=row.id) if row else None


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
            principal = _find(session, key)
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
