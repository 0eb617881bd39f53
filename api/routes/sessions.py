"""Sign-in with a username and password (`POST /api/session`), sign-out of this session
(`DELETE /api/session`) and of every session of the user (`POST /api/session/sign-out-everywhere`),
and an admin setting a user's password (`PUT /api/users/{name}/password`). A session is an
expiring bearer token (`api.session_hours`); failed sign-ins of one name are limited."""

from __future__ import annotations

import threading
import time
from collections import deque
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Path
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import token_cache
from api.auth_responses import AUTH_RESPONSES, BAD_BODY
from api.deps import Admin, Context, Viewer
from api.schemas import Problem
from citywatch.domain import sessions

router = APIRouter(tags=["sessions"])
#: Failed sign-ins of one name allowed per window before it is refused for the rest of the window.
MAX_FAILURES, FAILURE_WINDOW_S = 5, 300.0


class SignInIn(BaseModel):
    """A username and password."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class SessionOut(BaseModel):
    """A new session: send `token` as `Authorization: Bearer` until `expires_at`."""

    token: str
    expires_at: datetime
    name: str
    role: str


class PasswordIn(BaseModel):
    """A new password (at least 10 characters)."""

    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=sessions.MIN_PASSWORD, max_length=256)


class _Failures:
    """Recent failed sign-ins per name (bounded), so a password cannot be guessed quickly."""

    def __init__(self) -> None:
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def blocked(self, name: str) -> bool:
        now = time.monotonic()
        with self._lock:
            recent = self._seen.get(name)
            while recent and recent[0] < now - FAILURE_WINDOW_S:
                recent.popleft()
            return recent is not None and len(recent) >= MAX_FAILURES

    def failed(self, name: str) -> None:
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen.clear()
            self._seen.setdefault(name, deque(maxlen=MAX_FAILURES)).append(time.monotonic())


@router.post(
    "/api/session",
    status_code=201,
    response_model=SessionOut,
    summary="Sign in with a username and password",
    responses={401: {"model": Problem}, 429: {"model": Problem}, **BAD_BODY},
)
def sign_in(body: SignInIn, context: Context) -> SessionOut:
    """401 for a wrong name or password alike; 429 after 5 failures of one name in 5 minutes."""
    failures: _Failures = context.extras.setdefault("sign_in_failures", _Failures())
    if failures.blocked(body.username):
        raise HTTPException(429, detail="too many failed sign-ins for this user; try again in a few minutes")
    with context.database.session() as session:
        made = sessions.sign_in(session, body.username, body.password, hours=context.config.api.session_hours)
    if made is None:
        failures.failed(body.username)
        raise HTTPException(401, detail="wrong username or password")
    return SessionOut(token=made.token, expires_at=made.expires_at, name=made.name, role=made.role)


@router.delete("/api/session", status_code=204, summary="Sign out (this session)", responses=AUTH_RESPONSES)
def sign_out(context: Context, user: Viewer, authorization: Annotated[str | None, Header()] = None) -> Response:
    """Revokes the sign-in session this request carries (an API token stays: it is revoked with
    its user)."""
    token = (authorization or "").removeprefix("Bearer ").strip()
    if token:
        with context.database.session() as session:
            sessions.sign_out(session, token)
        token_cache(context.extras).clear()
    return Response(status_code=204)


@router.post(
    "/api/session/sign-out-everywhere", summary="Sign out of every session of this user", responses=AUTH_RESPONSES
)
def sign_out_everywhere(context: Context, user: Viewer) -> dict[str, int]:
    """Revokes every sign-in session of the caller (API tokens stay); how many there were."""
    if user.id is None:
        raise HTTPException(401, detail="anonymous callers have no sessions")
    with context.database.session() as session:
        revoked = sessions.sign_out_everywhere(session, user.id)
    token_cache(context.extras).clear()
    return {"revoked": revoked}


@router.put(
    "/api/users/{name}/password",
    status_code=204,
    summary="Set a user's password (admins)",
    responses={404: {"model": Problem}, **BAD_BODY, **AUTH_RESPONSES},
)
def set_password(
    name: Annotated[str, Path(max_length=64)], body: PasswordIn, context: Context, user: Admin
) -> Response:
    """The user can then sign in with it; their open sessions stay until they expire or sign out."""
    try:
        with context.database.session() as session:
            sessions.set_password(session, name, body.password)
    except ValueError as exc:
        raise HTTPException(404, detail=str(exc)) from exc
    return Response(status_code=204)
