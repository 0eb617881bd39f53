"""Error handlers: database trouble becomes a clear 4xx/503 answer instead of a 500.

A value the database refuses (a NUL byte in text for PostgreSQL, a number out of range) is the
client's problem (422); a lost race on a unique key is 409 (retry). A database that cannot take
the request now is 503 with `Retry-After` and says why (`citywatch.domain.db.describe_failure`):
`locked` (another writer held the lock past its timeout), `read-only`, `full`, or `unavailable`
(unreachable, or every pooled connection busy).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, InternalError, OperationalError, StatementError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from citywatch.domain.db import describe_failure

log = logging.getLogger(__name__)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on `app`."""

    @app.exception_handler(DataError)
    async def data_error(_request: Request, exc: DataError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": f"invalid value: {str(exc.orig).splitlines()[0]}"})

    @app.exception_handler(IntegrityError)
    async def conflict(_request: Request, exc: IntegrityError) -> JSONResponse:
        log.info("integrity conflict: %s", exc.orig)
        return JSONResponse(status_code=409, content={"detail": "conflicts with a concurrent change; retry"})

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(InternalError)
    @app.exception_handler(PoolTimeout)
    async def database_down(_request: Request, exc: Exception) -> JSONResponse:
        reason = describe_failure(exc)
        if isinstance(exc, PoolTimeout):
            reason = "locked: every database connection is busy"
        log.warning("database %s", reason)
        kind = reason.partition(":")[0]
        return JSONResponse(
            status_code=503,
            content={"detail": f"database {kind}: nothing was stored; retry", "reason": kind},
            headers={"Retry-After": "1" if kind == "locked" else "5"},
        )

    @app.exception_handler(StatementError)
    async def bad_parameter(_request: Request, exc: StatementError) -> JSONResponse:
        if isinstance(exc.orig, OverflowError | ValueError):
            return JSONResponse(status_code=422, content={"detail": f"invalid value: {exc.orig}"})
        raise exc
