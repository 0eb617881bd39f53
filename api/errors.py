"""Error handlers: database trouble becomes a clear 4xx/503 answer instead of a 500.

A value the database refuses (a NUL byte in text for PostgreSQL, a number out of range) is the
client's problem (422); a lost race on a unique key is 409 (retry); an unreachable database is 503.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError, StatementError

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
    async def database_down(_request: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", exc)
        return JSONResponse(status_code=503, content={"detail": "database unavailable"})

    @app.exception_handler(StatementError)
    async def bad_parameter(_request: Request, exc: StatementError) -> JSONResponse:
        if isinstance(exc.orig, OverflowError | ValueError):
            return JSONResponse(status_code=422, content={"detail": f"invalid value: {exc.orig}"})
        raise exc
