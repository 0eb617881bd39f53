"""Sign-in with a username and password: argon2id password hashes and expiring session tokens.

`set_password` stores a user's password as an argon2id hash (`argon2-cffi`, the reference
implementation; OWASP's first choice for password storage), with its parameters in the hash so
they can be raised later (`needs_rehash` on the next sign-in). `sign_in` checks a name and
password and issues a session token that expires after `hours` (a bearer token like the API's,
stored as its SHA-256); a wrong name costs the same hash as a wrong password, so answers do not
tell which was wrong. `sign_out` revokes one session, `sign_out_everywhere` every session of the
user (API tokens made with `citywatch users add` stay). Nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from citywatch.domain.accounts import hash_token, new_token
from citywatch.domain.tables import ApiToken, User

MIN_PASSWORD = 10
_HASHER = PasswordHasher()
#: Verified against when the user does not exist, so both failures cost one hash.
_DUMMY = _HASHER.hash("citywatch-no-such-user")


@dataclass(frozen=True)
class SignedIn:
    """A new session: the token to send as `Authorization: Bearer`, when it expires, and who."""

    token: str
    expires_at: datetime
    name: str
    role: str


def set_password(session: Session, name: str, password: str) -> None:
    """Give user `name` a password (at least `MIN_PASSWORD` characters); `ValueError` otherwise."""
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")
    user = session.scalars(select(User).where(User.name == name)).first()
    if user is None:
        raise ValueError(f"no user {name!r}")
    user.password_hash = _HASHER.hash(password)


def sign_in(
    session: Session, name: str, password: str, *, hours: float, now: datetime | None = None
) -> SignedIn | None:
    """A session for `name` when `password` is theirs and they are not disabled; None otherwise."""
    user = session.scalars(select(User).where(User.name == name)).first()
    stored = user.password_hash if user is not None and not user.disabled else None
    try:
        _HASHER.verify(stored or _DUMMY, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or stored is None:
        return None
    if _HASHER.check_needs_rehash(stored):
        user.password_hash = _HASHER.hash(password)
    token = new_token()
    expires = (now or datetime.now(UTC)) + timedelta(hours=hours)
    session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), revoked=False, expires_at=expires))
    session.flush()
    return SignedIn(token, expires, user.name, user.role)


def sign_out(session: Session, token: str) -> bool:
    """Revoke the sign-in session `token`; False when it is unknown or an API token (those are
    revoked with the user, `citywatch users revoke`: signing out of a console never breaks an
    integration that shares its token)."""
    row = session.scalars(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).first()
    if row is None or row.expires_at is None:
        return False
    row.revoked = True
    return True


def sign_out_everywhere(session: Session, user_id: int) -> int:
    """Revoke every sign-in session of the user; how many were open."""
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.expires_at.is_not(None), ApiToken.revoked.is_(False))
        .values(revoked=True)
    )
    return int(getattr(result, "rowcount", 0) or 0)
