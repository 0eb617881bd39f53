"""`citywatch mode`: show or switch the operating mode (normal, flood, ...).

`citywatch mode set flood --config FILE` records the switch (who, when) in the config's database;
a running `citywatch run` on the same database picks it up within `mode_poll_s` (it polls), so
cameras change rules, rate and priority from their next analysed frame without a restart.
`citywatch mode show --config FILE` prints the current mode, the modes defined and recent switches.
"""

from __future__ import annotations

import argparse
import getpass
import json
from typing import Any

from citywatch.config import load_config
from citywatch.domain.db import open_database
from citywatch.domain.mode_log import mode_history
from citywatch.modes import UnknownModeError, plan_for, plan_payload, set_mode, stored_mode


def _who(args: argparse.Namespace) -> str:
    if args.user:
        return args.user
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in a container
        return "cli"


def cmd_mode(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    database = open_database(config.storage.database_url)
    try:
        if args.mode_command == "set":
            try:
                row = set_mode(config, database, args.mode, _who(args), via="cli")
            except UnknownModeError as exc:
                print(f"citywatch: {exc}")
                return 2
            print(
                json.dumps(row, ensure_ascii=False)
                if args.json
                else f"mode {row['previous']} -> {row['mode']} by {row['changed_by']} at {row['changed_at']}"
            )
            return 0
        mode, current = stored_mode(config, database)
        report: dict[str, Any] = {
            "mode": mode,
            "changed_by": current["changed_by"] if current else None,
            "changed_at": current["changed_at"] if current else None,
            "modes": sorted(config.modes),
            "cameras": {c.id: plan_payload(plan_for(config, mode, c)) for c in config.cameras},
            "history": mode_history(database, 10),
        }
        if args.json:
            print(json.dumps(report, ensure_ascii=False))
        else:
            print(
                f"mode {mode} (since {report['changed_at'] or 'start'}, by {report['changed_by'] or '-'}); "
                f"defined: {', '.join(report['modes'])}"
            )
            for camera_id, plan in report["cameras"].items():
                print(
                    f"  {camera_id}: {plan['analysis_fps']:g} fps, priority {plan['priority']}, "
                    f"rules {', '.join(plan['active_rules']) or '-'}"
                )
        return 0
    finally:
        database.dispose()


def register(subparsers: Any) -> None:
    """Add `citywatch mode show|set`."""
    parser = subparsers.add_parser("mode", help="show or switch the operating mode (normal, flood, ...)")
    sub = parser.add_subparsers(dest="mode_command", required=True)
    show = sub.add_parser("show", help="current mode, per-camera plan and recent switches")
    show.add_argument("--config", required=True, help="config YAML")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_mode)
    switch = sub.add_parser("set", help="switch mode (recorded with who and when)")
    switch.add_argument("mode", help="a mode defined in the config, e.g. flood")
    switch.add_argument("--config", required=True, help="config YAML")
    switch.add_argument("--user", help="who switches (default: cli:<login name>)")
    switch.add_argument("--json", action="store_true")
    switch.set_defaults(func=cmd_mode)
