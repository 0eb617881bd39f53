"""The `citywatch` command line: one subcommand per module of `citywatch.commands`, plus those
other installed packages add through the `citywatch.commands` entry-point group.

The HTTP API adds `run` (pipeline and API in one process) and `serve` (API only) that way
(`api.commands`, declared in pyproject.toml), because the application never imports the HTTP
layer. Logs go to stderr. Exit codes: 0 success, 2 bad config or arguments, 3 model, source or
database problems.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

from citywatch import redaction
from citywatch.commands import check, dataset, db, mode, models, plates, replay, train, users
from citywatch.commands import eval as eval_command
from citywatch.config import ConfigError
from citywatch.domain.db import DatabaseDriverMissing
from vision.errors import DetectorError, SourceError

EXIT_OK, EXIT_CONFIG, EXIT_RUNTIME = 0, 2, 3
#: Subcommand modules of this package; each has `register(subparsers)`.
BUILTIN_COMMANDS = (check, replay, db, eval_command, mode, models, plates, users, dataset, train)
#: Entry-point group through which other packages add subcommand modules.
PLUGIN_GROUP = "citywatch.commands"

log = logging.getLogger("citywatch")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every built-in and installed subcommand."""
    parser = argparse.ArgumentParser(prog="citywatch", description="Camera monitoring for urban management.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in BUILTIN_COMMANDS:
        module.register(sub)
    for entry in sorted(entry_points(group=PLUGIN_GROUP), key=lambda e: e.name):
        entry.load().register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, run the subcommand, map known failures to exit codes with a one-line message."""
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    redaction.install_log_redaction()  # no password in any log line, whichever command logs it
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"citywatch: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (DetectorError, SourceError, DatabaseDriverMissing) as exc:
        print(f"citywatch: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    except KeyboardInterrupt:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
