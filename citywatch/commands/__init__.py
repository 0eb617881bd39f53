"""Subcommands of the `citywatch` command line, one module each, registered by `citywatch.cli`."""
