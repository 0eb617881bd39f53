"""`citywatch serve`: the HTTP API over the configured database, without running the pipeline.

    citywatch serve --config FILE [--host H] [--port N] [--workers N]

Migrates the database, registers the configured cameras and serves `/api` (docs at `/docs`).
Case transitions are published to MQTT/webhooks when the config enables them.
"""

from __future__ import annotations

import argparse
import logging
import os

log = logging.getLogger("citywatch")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `serve` subcommand."""
    parser = subparsers.add_parser("serve", help="serve the API (no pipeline)")
    parser.add_argument("--config", required=True, help="config YAML")
    parser.add_argument("--host", help="listen address (default: api.host of the config)")
    parser.add_argument("--port", type=int, help="TCP port (default: api.port of the config)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.set_defaults(func=cmd_serve)


def build_app():  # type: ignore[no-untyped-def]
    """The app of $CITYWATCH_CONFIG (uvicorn factory for `--workers` > 1)."""
    from api.app import create_app, freeze_startup_heap
    from api.db import open_database
    from citywatch.config import load_config
    from citywatch.events import register_cameras

    config = load_config(os.environ["CITYWATCH_CONFIG"])
    database = open_database(config.storage.database_url)
    register_cameras(database, config.cameras)
    app = create_app(config, database)
    freeze_startup_heap()
    return app


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    import uvicorn

    from citywatch.config import load_config

    config = load_config(args.config)  # validate before anything starts
    os.environ["CITYWATCH_CONFIG"] = args.config
    host, port = args.host or config.api.host, args.port or config.api.port
    log.info("API on http://%s:%d (docs at /docs), %d worker(s)", host, port, args.workers)
    if args.workers > 1:
        uvicorn.run(
            "citywatch.commands.serve:build_app",
            factory=True,
            host=host,
            port=port,
            workers=args.workers,
            log_level="warning",
        )
        return 0
    app = build_app()
    try:
        uvicorn.run(app, host=host, port=port, log_level="info")
    finally:
        publisher = getattr(app.state, "publisher", None)
        if publisher is not None:
            publisher.stop()
        app.state.context.database.dispose()
    return 0
