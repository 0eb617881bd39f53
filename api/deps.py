"""Shared FastAPI dependencies: the database session and the app's runtime context."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

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
    return request.app.state.context


def get_session(context: Annotated[AppContext, Depends(get_context)]) -> Iterator[Session]:
    session = context.database.sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


Context = Annotated[AppContext, Depends(get_context)]
DbSession = Annotated[Session, Depends(get_session)]
