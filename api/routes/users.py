"""Users (admin only): list API users, add one (or re-role it) with a new token, revoke one."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from api.auth import token_cache
from api.auth_responses import AUTH_RESPONSES, BAD_BODY
from api.deps import Admin, Context, DbSession, require_role
from api.schemas import Problem
from citywatch.domain import accounts

router = APIRouter(
    prefix="/api/users", tags=["users"], dependencies=[Depends(require_role("admin"))], responses=AUTH_RESPONSES
)


class UserOut(BaseModel):
    """An API user (never its tokens)."""

    name: str
    role: Literal["viewer", "operator", "admin"]
    disabled: bool
    tokens: int = Field(description="Active (unrevoked) tokens.")


class UserIn(BaseModel):
    """A user to create, or an existing one to give a role and a new token."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"name": "wang.li", "role": "operator"}]})

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")
    role: Literal["viewer", "operator", "admin"]


class NewToken(BaseModel):
    """The new token: shown once, only its SHA-256 is stored."""

    name: str
    role: str
    token: str


@router.get("", response_model=list[UserOut], summary="List users")
def list_users(session: DbSession) -> list[UserOut]:
    """Every user, by name, with its role and number of active tokens."""
    return [UserOut.model_validate(u, from_attributes=True) for u in accounts.list_users(session)]


@router.post(
    "",
    response_model=NewToken,
    status_code=201,
    summary="Add a user (or re-role one) and issue a token",
    responses=BAD_BODY,
)
def create_user(body: UserIn, context: Context, admin: Admin) -> NewToken:
    """Like `citywatch users add NAME --role ROLE`."""
    with context.database.session() as session:
        token = accounts.add_user(session, body.name, body.role)
    token_cache(context.extras).clear()  # a re-roled user's older tokens carry the new role at once
    return NewToken(name=body.name, role=body.role, token=token)


@router.delete(
    "/{name}",
    status_code=204,
    summary="Disable a user and revoke its tokens",
    responses={404: {"model": Problem, "description": "No such user"}},
)
def delete_user(name: str, context: Context, admin: Admin) -> None:
    """Like `citywatch users revoke NAME`; the row stays for the audit trail. This worker refuses
    the tokens at once; other worker processes within a few seconds (their token cache)."""
    with context.database.session() as session:
        if not accounts.revoke_user(session, name):
            raise HTTPException(404, detail=f"user {name!r} not found")
    token_cache(context.extras).clear()
