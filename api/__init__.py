"""Citywatch's HTTP service: the FastAPI app over the domain (`citywatch.domain`), and the console.

`app.create_app` wires one router per resource (`routes/`) to a config and a database; `deps`
holds the shared dependencies (context, session, caller's role), `views` the API forms of the
domain's payloads, `live` the console's live updates, `static/` the console itself, and
`commands` the `citywatch run` / `citywatch serve` subcommands that start a server.
"""
