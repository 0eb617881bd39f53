"""Shared FastAPI dependencies: the database session, the app's runtime context and the caller's role."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from api.auth import ANONYMOUS, ROLES, Principal, authenticate
from api.db import Database
from citywatch.config import CitywatchConfig


@dataclass
class AppContext:
    """What the routes need: the config, the database and, when the pipeline runs in this
    process, a callable giving live camera health."""

    config: CitywatchConfig
    database: Database
    health: Any = None  # Callable[[], dict[str, StreamHealth]] | None
    extras: dict[str, Any] = field(default_factory=dict)


def get_context(request: Request) -> AppContext:
    """The app's context (config, database, live health)."""
    return request.app.state.context


def get_session(context: Annotated[AppContext, Depends(get_context)]) -> Iterator[Session]:
    """A session per request: committed when the handler returns, rolled back on error."""
    with context.database.session() as session:
        yield session


Context = Annotated[AppContext, Depends(get_context)]
DbSession = Annotated[Session, Depends(get_session)]


_bearer = HTTPBearer(auto_error=False, description="A token from `citywatch users add NAME --role ROLE`.")


def current_principal(
    context: Context,
    session: DbSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """The caller named by the bearer token; None without one; 401 for a bad token."""
    if credentials is None:
        return None
    principal = authenticate(session, credentials.credentials)
    if principal is None:
        raise HTTPException(401, detail="invalid or revoked token", headers={"WWW-Authenticate": "Bearer"})
    return principal


def require_role(role: str) -> Callable[..., Principal]:
    """A dependency admitting callers with `role` or above; it returns the `Principal` (`.name`, `.role`).

    Without a token: reads (`viewer`) pass as the anonymous viewer when `api.anonymous_read` is on;
    everything else is 401. A token whose role is too low is 403.

    Example:
        >>> @router.put("/api/mode")  # doctest: +SKIP
        ... def put_mode(user: Annotated[Principal, Depends(require_role("admin"))]): ...
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    def dependency(context: Context, principal: Annotated[Principal | None, Depends(current_principal)]) -> Principal:
        if principal is None:
            if role == "viewer" and context.config.api.anonymous_read:
                return ANONYMOUS
            raise HTTPException(401, detail="a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
        if not principal.has_role(role):
            raise HTTPException(403, detail=f"this needs the {role} role; {principal.name} is {principal.role}")
        return principal

    dependency.__name__ = f"require_{role}"
    return dependency


Viewer = Annotated[Principal, Depends(require_role("viewer"))]
Operator = Annotated[Principal, Depends(require_role("operator"))]
Admin = Annotated[Principal, Depends(require_role("admin"))]
