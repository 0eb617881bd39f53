"""`citywatch replay --config FILE [--json] [--speed S]`: run every camera's source once, print events.

Each stored event is printed once, as one JSON object per line with `--json` (logs go to stderr),
carrying `clip`: on a camera that records clips, the line waits until its clip is written (post_s of
stream time after the trigger, or the end of the source), and `clip` is the MP4's path (null when it
could not be written); elsewhere it is printed when committed, with `clip` null. Exit 0 when every
source ended normally, 3 when a camera failed.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
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

    recording = {camera.id for camera in config.cameras if camera.record.clips}
    waiting: dict[str, dict[str, Any]] = {}  # events whose clip is still being written
    outcomes: dict[str, str | None] = {}  # clips done before their event was heard of (a spooled event)
    lock = threading.Lock()

    def on_event(payload: dict[str, Any]) -> None:
        if payload["camera_id"] not in recording:
            print_event({**payload, "clip": None})
            return
        with lock:
            if payload["uid"] not in outcomes:
                waiting[payload["uid"]] = payload
                return
            clip = outcomes.pop(payload["uid"])
        print_event({**payload, "clip": clip})

    def on_clip(uid: str, clip: str | None) -> None:
        with lock:
            payload = waiting.pop(uid, None)
            if payload is None:
                outcomes[uid] = clip
                return
        print_event({**payload, "clip": clip})

    def print_event(payload: dict[str, Any]) -> None:
        if args.json:
            print(json.dumps(payload, ensure_ascii=False), flush=True)
        else:
            print(
                f"{payload['type']} camera={payload['camera_id']} zone={payload['zone_id']} "
                f"label={payload['label']} first_seen={payload['first_seen_s']}s "
                f"triggered={payload['triggered_s']}s snapshot={payload['snapshot']} clip={payload['clip']}",
                flush=True,
            )

    speed = args.speed if args.speed in ("fast", "realtime") else float(args.speed)
    sink.clip_listeners.append(on_clip)
    runtime = run_replay(config, detector, sink, on_event=on_event, speed=speed)
    close_sink(sink)  # writes the clips still pending first
    for payload in list(waiting.values()):  # a clip whose outcome never came (its writer failed)
        print_event({**payload, "clip": None})
    database.dispose()
    failed = {cid: h.last_error for cid, h in runtime.health().items() if h.state == StreamState.ERROR}
    for camera_id, error in failed.items():
        log.error("camera %s: %s", camera_id, error)
    return 3 if failed or runtime.errors else 0
