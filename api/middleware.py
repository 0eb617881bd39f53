"""The guards every HTTP request passes before a route sees it (ASGI middleware, `install`).

* `RequestGuard`: a NUL anywhere in the path is a 404; a write under /api/ needs a valid bearer
  token, and the docs and the schema need a reader, both checked before any byte of the body is
  read; every body is bounded (`MAX_BODY_BYTES`, more for the photo upload): a declared length
  over the limit is a 413 at once, a chunked body is counted as it streams and cut at the limit;
  a JSON body is read (within the limit) and refused with 422 when it holds a non-finite number
  or a lone surrogate (`api.strict_json`).
* `SecurityHeaders`: a Content-Security-Policy that matches what the console loads, no framing,
  no MIME sniffing, no referrer, on every response.
* `redact_access_log`: no `token=` or `ticket=` value reaches uvicorn's access log.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI, HTTPException
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from api.deps import AppContext, principal_of
from api.strict_json import body_problem

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The largest request body, except where `BODY_LIMITS` says more (a hotline case is a few KB).
MAX_BODY_BYTES = 1024 * 1024
#: Routes with a limit of their own: a case photo (15 MB, `api.routes.case_photos`) in multipart.
BODY_LIMITS = ((re.compile(r"^/api/cases/[^/]+/photos$"), 16 * 1024 * 1024),)
#: Methods that change something: under /api/ they need a valid token before the body is read.
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Writes an anonymous reader may make when `api.anonymous_read` is on: its live-stream ticket.
ANONYMOUS_WRITES = frozenset({"/api/stream/ticket"})
#: Writes that need no token at all: signing in with a username and password (api.routes.sessions).
SIGN_IN = ("POST", "/api/session")
#: What describes the API: readers only when anonymous reads are off.
DOCS_PATHS = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})

#: The console: its own scripts only (no inline script), its own CSS (plus the few style
#: attributes it sets), images and event clips fetched with the token and shown as blob: URLs, the
#: data: favicon.
CONSOLE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' blob: data:; "
    "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
#: FastAPI's /docs and /redoc pages: an inline bootstrap script and the viewer's files from its CDN.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "font-src 'self' https://fonts.gstatic.com; "
    "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
_JSON_TYPE = re.compile(r"^application/([\w.+-]*\+)?json\b", re.IGNORECASE)


def install(app: FastAPI) -> None:
    """Add the guards to `app` (the security headers outermost, so refusals carry them too) and
    keep tokens out of the access log."""
    app.add_middleware(RequestGuard)
    app.add_middleware(SecurityHeaders)
    redact_access_log()


def body_limit(path: str) -> int:
    """The largest body a request to `path` may send."""
    return next((limit for pattern, limit in BODY_LIMITS if pattern.match(path)), MAX_BODY_BYTES)


class BodyTooLarge(StarletteHTTPException):
    """Raised from `receive` when a streamed body passes its limit; FastAPI answers it as a 413."""

    def __init__(self, limit: int):
        super().__init__(413, detail=f"request body over {limit} bytes", headers={"Connection": "close"})


def _refusal(status: int, detail: Any, **headers: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers or None)


class HttpMiddleware:
    """An ASGI middleware that sees HTTP requests only (`handle`); anything else passes through."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.handle(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class RequestGuard(HttpMiddleware):
    """ASGI middleware: NUL paths, early authentication of writes and docs, bounded and strict bodies."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        headers = Headers(scope=scope)
        pending = self._pending_body(headers)
        if "\x00" in path or b"\x00" in scope.get("query_string", b""):
            await self._answer(_refusal(404, "not found"), pending, scope, receive, send)
            return
        refusal = await self._authenticate(scope, headers, path, method)
        if refusal is not None:
            await self._answer(refusal, pending, scope, receive, send)
            return
        limit = body_limit(path)
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            status, detail = (413, f"request body over {limit} bytes") if declared.isdigit() else (400, "bad length")
            await self._answer(_refusal(status, detail), pending, scope, receive, send)
            return
        if method in WRITES and _JSON_TYPE.match(headers.get("content-type", "application/json")):
            await self._strict_json(scope, receive, send, limit, pending)
            return
        await self._bounded(scope, receive, send, limit)

    @staticmethod
    def _pending_body(headers: Headers) -> bool:
        return headers.get("content-length", "0") != "0" or "transfer-encoding" in headers

    async def _authenticate(self, scope: Scope, headers: Headers, path: str, method: str) -> JSONResponse | None:
        """A 401 for a write under /api/ without a valid token, and for the docs without a
        reader when anonymous reads are off; None to go on."""
        context: AppContext = scope["app"].state.context
        anonymous_ok = context.config.api.anonymous_read
        if (method, path) == SIGN_IN:
            return None
        if method in WRITES and path.startswith("/api/"):
            anonymous_ok = anonymous_ok and path in ANONYMOUS_WRITES
        elif path not in DOCS_PATHS:
            return None
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            if anonymous_ok:
                return None
            return _refusal(401, "a bearer token is required", **{"WWW-Authenticate": "Bearer"})
        try:
            await principal_of(context, token.strip())
        except HTTPException as exc:
            return _refusal(exc.status_code, exc.detail, **(exc.headers or {}))
        return None

    @staticmethod
    async def _answer(response: JSONResponse, pending: bool, scope: Scope, receive: Receive, send: Send) -> None:
        """Send `response` without reading the body; close the connection when a body was coming,
        so the client stops sending it (uvicorn closes on `Connection: close`)."""
        if pending:
            response.headers["Connection"] = "close"
        await response(scope, receive, send)

    async def _bounded(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Pass the body through, counting it; past `limit` the route's read fails with a 413."""
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge as exc:  # not answered by FastAPI (a plain Starlette route)
            if started:
                raise
            await self._answer(_refusal(413, exc.detail), True, scope, receive, send)

    async def _strict_json(self, scope: Scope, receive: Receive, send: Send, limit: int, pending: bool) -> None:
        """Read the JSON body (within `limit`), refuse what strict JSON refuses, then hand the
        same bytes to the route."""
        chunks: list[bytes] = []
        size, more = 0, pending
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._answer(_refusal(413, f"request body over {limit} bytes"), True, scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        problem = body_problem(body) if body else None
        if problem is not None:
            error = {"type": "json_invalid", "loc": ["body"], "msg": f"JSON decode error: {problem}", "input": None}
            await self._answer(_refusal(422, [error]), False, scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


class SecurityHeaders(HttpMiddleware):
    """ASGI middleware adding the security headers to every response (CSP per page kind)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        policy = (DOCS_POLICY if scope["path"] in DOCS_PATHS else CONSOLE_POLICY).encode()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = [(b"content-security-policy", policy), *SECURITY_HEADERS]
                headers += [(name, value) for name, value in extra if name not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


#: A credential in a logged URL: the value of a `token` or `ticket` query parameter.
_CREDENTIAL = re.compile(r"([?&](?:token|ticket)=)[^&\s\"]*", re.IGNORECASE)


class RedactCredentials(logging.Filter):
    """A logging filter replacing `token=` and `ticket=` values in a record's arguments (uvicorn's
    access log line is `'%s - "%s %s HTTP/%s" %d'` with the path and query as an argument)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _CREDENTIAL.sub(r"\1[redacted]", arg) if isinstance(arg, str) else arg for arg in record.args
            )
        elif isinstance(record.msg, str):
            record.msg = _CREDENTIAL.sub(r"\1[redacted]", record.msg)
        return True


def redact_access_log() -> None:
    """Put `RedactCredentials` on uvicorn's access logger, once (uvicorn's logging setup keeps a
    logger's filters)."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(existing, RedactCredentials) for existing in logger.filters):
        logger.addFilter(RedactCredentials())
