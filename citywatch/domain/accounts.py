"""Users, roles and bearer tokens: who may read, work cases, or administer.

Roles are ordered: `viewer` (read) < `operator` (review, register, dispatch, verify, close) <
`admin` (cameras, modes, users). A token is 32 random bytes (URL-safe base64); only its SHA-256
is stored. A slow password hash (bcrypt, argon2) protects *low-entropy* secrets against guessing;
a 256-bit random token cannot be guessed, so one fast SHA-256 is as safe and lets every request
be checked by an indexed equality lookup instead of a costly hash per request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from citywatch.domain.tables import ApiToken, User

ROLES: tuple[str, ...] = ("viewer", "operator", "admin")
_RANK = {role: rank for rank, role in enumerate(ROLES)}


@dataclass(frozen=True)
class Principal:
    """Who acts: a user (or the API's anonymous viewer) with its role."""

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


@dataclass(frozen=True)
class UserSummary:
    """A user as listings show it (never its tokens)."""

    name: str
    role: str
    disabled: bool
    tokens: int


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


def list_users(session: Session) -> list[UserSummary]:
    """Every user, by name, with its role and number of active (unrevoked) tokens."""
    counts = dict(
        session.execute(
            select(ApiToken.user_id, func.count()).where(ApiToken.revoked.is_(False)).group_by(ApiToken.user_id)
        ).all()
    )
    return [
        UserSummary(user.name, user.role, user.disabled, counts.get(user.id, 0))
        for user in session.scalars(select(User).order_by(User.name))
    ]


def authenticate(session: Session, token: str) -> Principal | None:
    """The user holding this token, or None when it is unknown, revoked or the user is disabled."""
    return find_by_hash(session, hash_token(token))


def find_by_hash(session: Session, token_hash: str) -> Principal | None:
    """The user holding the token with this hash (see `authenticate`); an expired session's token
    holds nobody."""
    row = session.execute(
        select(User.id, User.name, User.role)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == token_hash, ApiToken.revoked.is_(False), User.disabled.is_(False))
        .where(or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > datetime.now(UTC)))
    ).first()
    return Principal(name=row.name, role=row.role, id=row.id) if row else None
