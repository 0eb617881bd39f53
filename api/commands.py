"""The subcommands that need the HTTP server: `citywatch run` (pipeline and API in one process)
and `citywatch serve` (the API alone, e.g. a separate API node).

    citywatch run --config FILE [--host H] [--port N]
    citywatch serve --config FILE [--host H] [--port N] [--workers N]

The command line (`citywatch.cli`) finds this module through the `citywatch.commands` entry-point
group (pyproject.toml), since the application never imports the HTTP layer. Both migrate the
database and register the configured cameras before serving `/api` (docs at `/docs`) and the
console at `/`.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from typing import TYPE_CHECKING

from citywatch.config import ConfigError, load_config

if TYPE_CHECKING:  # the app is built only when a server starts (see below)
    from fastapi import FastAPI

    from citywatch.cluster import Engine
    from citywatch.sink import EventSink

log = logging.getLogger("citywatch")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `citywatch run` and `citywatch serve`."""
    run = subparsers.add_parser("run", help="run the pipeline and the API in one process")
    run.add_argument("--config", required=True, help="config YAML")
    run.add_argument("--host", help="API host (default: api.host of the config)")
    run.add_argument("--port", type=int, help="API port (default: api.port of the config)")
    run.set_defaults(func=cmd_run)

    serve = subparsers.add_parser("serve", help="serve the API (no pipeline)")
    serve.add_argument("--config", required=True, help="config YAML")
    serve.add_argument("--host", help="listen address (default: api.host of the config)")
    serve.add_argument("--port", type=int, help="TCP port (default: api.port of the config)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.set_defaults(func=cmd_serve)


def cmd_run(args: argparse.Namespace) -> int:
    """Every camera's pipeline and the API in one process, until interrupted."""
    # deferred: the web and video stacks take seconds to import; the CLI loads this module for
    # every command, and only `run` needs them
    import uvicorn

    from api.app import attach_pipeline, create_app, freeze_startup_heap
    from citywatch.cluster import open_engine
    from citywatch.recordings.maintainer import Maintainer
    from citywatch.startup import close_sink, open_pipeline

    config = load_config(args.config)
    detector, database, sink = open_pipeline(config, source=args.config)
    runtime = open_engine(config, detector, sink)  # cluster.engine: inline threads, or Ray workers
    app = create_app(config, database, publisher=sink.publisher)
    attach_pipeline(app, runtime=runtime, sink=sink)
    host, port = args.host or config.api.host, args.port or config.api.port
    freeze_startup_heap()
    maintainer = Maintainer(config, database)  # repairs a crash's .part segments before recording starts
    maintainer.start()
    runtime.start()
    if sink.publisher is not None:
        sink.publisher.report_status(runtime.health)
    reload_args = (args.config, runtime, app, sink)  # SIGHUP: apply camera changes (ray engine, docs/cluster.md)
    signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=_reload, args=reload_args, daemon=True).start())
    cameras = len(runtime.health())
    log.info(
        "API on http://%s:%d (docs at /docs); %d camera(s) running (%s)", host, port, cameras, config.cluster.engine
    )
    try:
        uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=3)
    finally:
        runtime.stop()
        maintainer.stop()
        close_sink(sink)
        database.dispose()
    return 0


def _reload(path: str, engine: Engine, app: FastAPI, sink: EventSink) -> None:
    """Re-read the config and apply its camera changes to the running engine and the API."""
    # deferred: like the engine itself, only for `run`
    from citywatch.cluster import reload_engine

    try:
        config = load_config(path)
    except ConfigError as exc:
        log.error("reload refused, the running config stays: %s", exc)
        return
    if reload_engine(engine, config, sink):
        app.state.context.config = config
        log.info("reloaded %s: %d camera(s)", path, len(config.cameras))


def build_app() -> FastAPI:
    """The app of $CITYWATCH_CONFIG (the uvicorn factory of `serve --workers` > 1)."""
    # deferred: the web stack takes a second to import, and only the serving commands need it
    from api.app import create_app, freeze_startup_heap
    from citywatch.domain.cameras import register_cameras
    from citywatch.domain.db import open_database
    from citywatch.redaction import install_log_redaction

    install_log_redaction()  # a worker process of `serve --workers N` never runs the CLI's main
    config = load_config(os.environ["CITYWATCH_CONFIG"])
    database = open_database(config.storage.database_url)
    register_cameras(database, config.cameras)
    app = create_app(config, database)
    freeze_startup_heap()
    return app


def cmd_serve(args: argparse.Namespace) -> int:
    """The API over the configured database, until interrupted."""
    # deferred: the web server, only for the serving commands
    import uvicorn

    config = load_config(args.config)  # validate before anything starts
    os.environ["CITYWATCH_CONFIG"] = args.config
    host, port = args.host or config.api.host, args.port or config.api.port
    log.info("API on http://%s:%d (docs at /docs), %d worker(s)", host, port, args.workers)
    if args.workers > 1:
        uvicorn.run(
            "api.commands:build_app", factory=True, host=host, port=port, workers=args.workers, log_level="warning"
        )
        return 0
    app = build_app()
    try:
        uvicorn.run(app, host=host, port=port, log_level="info")
    finally:
        if app.state.publisher is not None:
            app.state.publisher.stop()
        app.state.context.database.dispose()
    return 0
