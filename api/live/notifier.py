"""The change notifier: ASGI middleware telling every console that the API changed something."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from api.live.broadcaster import Broadcaster

#: Methods whose successful requests are announced.
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class ChangeNotifier:
    """ASGI middleware: after a successful mutating request under /api/, publish a `change`
    message (method, path, status) so every console refreshes what it shows."""

    def __init__(self, app: Any, broadcaster: Broadcaster):
        self.app = app
        self.broadcaster = broadcaster

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope["method"] not in MUTATING
            or not path.startswith("/api/")
            or path.startswith("/api/stream")
        ):
            await self.app(scope, receive, send)
            return
        status = {"code": 0}

        async def watch(message: dict) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        await self.app(scope, receive, watch)
        if 200 <= status["code"] < 300:
            self.broadcaster.publish(
                "change", {"method": scope["method"], "path": scope["path"], "status": status["code"]}
            )
