"""`citywatch replay --config FILE [--json] [--speed S]`: run every camera's source once, print events.

Each stored event is printed as it is committed: one JSON object per line with `--json` (logs go
to stderr). Exit 0 when every source ended normally, 3 when a camera failed.
"""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from citywatch.config import load_config

log = logging.getLogger("citywatch")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `citywatch replay`."""
    replay = subparsers.add_parser("replay", help="run every camera's source once, print events")
    replay.add_argument("--config", required=True, help="config YAML")
    replay.add_argument("--json", action="store_true", help="one JSON object per event per line on stdout")
    replay.add_argument("--speed", default="fast", help="fast (default), realtime, or a factor such as 10")
    replay.set_defaults(func=cmd_replay)


def cmd_replay(args: argparse.Namespace) -> int:
    """Replay, printing each event; 3 when a camera failed."""
    # deferred: the video stack takes seconds to import, and the other commands never need it
    from citywatch.runtime import run_replay
    from citywatch.startup import close_sink, open_pipeline
    from vision.streams import StreamState

    config = load_config(args.config)
    detector, database, sink = open_pipeline(config, source=args.config)

    def print_event(payload: dict[str, Any]) -> None:
        if args.json:
            print(json.dumps(payload, ensure_ascii=False), flush=True)
        else:
            print(
                f"{payload['type']} camera={payload['camera_id']} zone={payload['zone_id']} "
                f"label={payload['label']} first_seen={payload['first_seen_s']}s "
                f"triggered={payload['triggered_s']}s snapshot={payload['snapshot']}",
                flush=True,
            )

    speed = args.speed if args.speed in ("fast", "realtime") else float(args.speed)
    runtime = run_replay(config, detector, sink, on_event=print_event, speed=speed)
    close_sink(sink)
    database.dispose()
    failed = {cid: h.last_error for cid, h in runtime.health().items() if h.state == StreamState.ERROR}
    for camera_id, error in failed.items():
        log.error("camera %s: %s", camera_id, error)
    return 3 if failed or runtime.errors else 0
