"""Live updates for the console: what `GET /api/stream` (server-sent events) carries and how.

* `broadcaster`: `Broadcaster`, fanning messages out to every connected browser through bounded
  per-client queues (a slow client loses messages, counted, instead of slowing anyone);
* `notifier`: `ChangeNotifier`, middleware announcing every successful change made through the API;
* `watcher`: `DatabaseWatcher`, which brings changes made by other processes while browsers listen;
* `tickets`: `StreamTickets`, one-use tickets so no bearer token appears in the stream's URL.

`install(app)` puts them on an app; the routes are `api.routes.live`.
"""

from __future__ import annotations

from fastapi import FastAPI

from api.live.broadcaster import Broadcaster
from api.live.notifier import ChangeNotifier
from api.live.tickets import StreamTickets
from api.live.watcher import DatabaseWatcher


def install(app: FastAPI, queue_size: int = 200) -> Broadcaster:
    """Give `app` a broadcaster (`app.state.broadcaster`, fed by the database's committed changes),
    the change notifier, the database watcher and stream tickets."""
    broadcaster = Broadcaster(queue_size=queue_size)
    database = app.state.context.database
    app.state.broadcaster = broadcaster
    app.state.stream_tickets = StreamTickets()
    app.state.database_watcher = DatabaseWatcher(database, broadcaster)
    app.add_middleware(ChangeNotifier, broadcaster=broadcaster)
    database.subscribers.append(broadcaster.publish_committed)  # the ledger's committed cases and events
    return broadcaster


__all__ = ["Broadcaster", "ChangeNotifier", "DatabaseWatcher", "StreamTickets", "install"]
