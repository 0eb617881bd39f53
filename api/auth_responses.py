"""Error responses that many routes document in the OpenAPI schema (401/403, 400 for bodies)."""

from __future__ import annotations

from typing import Any

from api.schemas import Problem

AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No token (and anonymous reads are off), or a bad token"},
    403: {"model": Problem, "description": "The token's role is too low"},
}
#: What a route taking a JSON body answers to a body that is not JSON at all.
BAD_BODY: dict[int | str, dict[str, Any]] = {400: {"model": Problem, "description": "The body is not valid JSON"}}
