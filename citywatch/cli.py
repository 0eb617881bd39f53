"""The `citywatch` command line: run, replay, check-config (and subcommands from `commands/`).

Logs go to stderr; `replay --json` prints one event per line on stdout. Exit codes: 0 success,
2 bad config or arguments, 3 model or source problems.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from collections.abc import Sequence

from citywatch.config import CitywatchConfig, ConfigError, load_config

EXIT_OK, EXIT_CONFIG, EXIT_RUNTIME = 0, 2, 3
#: Modules under citywatch.commands that add their own subcommands via `register(subparsers)`.
COMMAND_MODULES: tuple[str, ...] = ("db", "eval", "mode", "models", "serve", "users")

log = logging.getLogger("citywatch")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _load(path: str) -> CitywatchConfig:
    return load_config(path)


def cmd_check_config(args: argparse.Namespace) -> int:
    config = _load(args.file)
    print(f"{args.file}: valid")
    print(f"  detector: {config.detector.model} ({config.detector.backend})")
    print(f"  database: {config.storage.database_url}")
    print(f"  evidence: {config.storage.evidence_dir}")
    for camera in config.cameras:
        print(f"  camera {camera.id} ({camera.name or '-'}, {camera.district} {camera.street}): {camera.url} "
              f"@ {camera.analysis_fps:g} fps, {len(camera.zones)} zone(s), {len(camera.rules)} rule(s)")
        for rule in camera.rules:
            print(f"    rule {rule.id}: {rule.type} in {', '.join(rule.zones)} for {', '.join(rule.labels)}")
    return EXIT_OK


def _open_pipeline(config: CitywatchConfig):  # type: ignore[no-untyped-def]
    from api.db import open_database
    from citywatch.events import EventSink, register_cameras
    from vision.detect import load_detector_set

    detector = load_detector_set(config.detector, config.detectors)  # every model, checked, before anything runs
    database = open_database(config.storage.database_url)
    register_cameras(database, config.cameras)
    publisher = None
    if config.mqtt.enabled or config.webhooks:
        from citywatch.publish import Publisher

        publisher = Publisher.from_config(config)
    return detector, database, EventSink.from_config(config, database, publisher)


def _close_sink(sink) -> None:  # type: ignore[no-untyped-def]
    """Let spooled events reach the database (briefly), then stop the sink and its publisher."""
    if sink.spooled and not sink.flush(timeout=10):
        log.warning("%d event(s) stay in the spool %s until the database returns", sink.spooled, sink.spool.path)
    sink.close()
    if sink.publisher is not None:
        sink.publisher.stop()


def cmd_replay(args: argparse.Namespace) -> int:
    from citywatch.runtime import run_replay

    config = _load(args.config)
    detector, database, sink = _open_pipeline(config)

    def print_event(payload: dict) -> None:
        if args.json:
            print(json.dumps(payload, ensure_ascii=False), flush=True)
        else:
            print(f"{payload['type']} camera={payload['camera_id']} zone={payload['zone_id']} "
                  f"label={payload['label']} first_seen={payload['first_seen_s']}s "
                  f"triggered={payload['triggered_s']}s snapshot={payload['snapshot']}", flush=True)

    speed = args.speed if args.speed in ("fast", "realtime") else float(args.speed)
    runtime = run_replay(config, detector, sink, on_event=print_event, speed=speed)
    _close_sink(sink)
    database.dispose()
    failed = {cid: h.last_error for cid, h in runtime.health().items() if h.state == "error"}
    for camera_id, error in failed.items():
        log.error("camera %s: %s", camera_id, error)
    return EXIT_RUNTIME if failed or runtime.errors else EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app, freeze_startup_heap
    from api.routes import live
    from citywatch.runtime import Runtime

    config = _load(args.config)
    detector, database, sink = _open_pipeline(config)
    runtime = Runtime(config, detector, sink)
    app = create_app(config, database, health_source=runtime.health, detector_source=runtime.detector_stats)
    live.attach(app, sink=sink, runtime=runtime)  # new events and thumbnails to the console
    app.state.context.extras["mode_holder"] = runtime.modes  # PUT /api/mode applies at once
    app.state.context.extras["pipeline_status"] = runtime.pipeline_status  # e.g. water fraction per zone
    host = args.host or config.api.host
    port = args.port or config.api.port
    freeze_startup_heap()
    runtime.start()
    if sink.publisher is not None:
        sink.publisher.report_status(runtime.health)
    log.info("API on http://%s:%d (docs at /docs); %d camera(s) running", host, port, len(runtime.workers))
    try:
        uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=3)
    finally:
        runtime.stop()
        _close_sink(sink)
        database.dispose()
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="citywatch", description="Camera monitoring for urban management.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the pipeline and the API in one process")
    run.add_argument("--config", required=True, help="config YAML")
    run.add_argument("--host", help="API host (default: api.host of the config)")
    run.add_argument("--port", type=int, help="API port (default: api.port of the config)")
    run.set_defaults(func=cmd_run)

    replay = sub.add_parser("replay", help="run every camera's source once, print events")
    replay.add_argument("--config", required=True, help="config YAML")
    replay.add_argument("--json", action="store_true", help="one JSON object per event per line on stdout")
    replay.add_argument("--speed", default="fast", help="fast (default), realtime, or a factor such as 10")
    replay.set_defaults(func=cmd_replay)

    check = sub.add_parser("check-config", help="validate a config file and print a summary")
    check.add_argument("file", help="config YAML")
    check.set_defaults(func=cmd_check_config)

    for name in COMMAND_MODULES:
        importlib.import_module(f"citywatch.commands.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    from vision.detect import DetectorError
    from vision.streams import SourceError

    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"citywatch: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (DetectorError, SourceError) as exc:
        print(f"citywatch: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    except KeyboardInterrupt:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
