"""The domain: where events become cases, and everything the bureau's ledger keeps.

* `db`: engines and sessions (SQLite by default, PostgreSQL); `migrate` + `migrations/`: the schema;
* `tables`: the ORM tables (cameras, zones, events, cases, case steps, users, tokens, mode switches);
* `events`: a triggered rule's record stored as an event row and attached to its case;
* `ledger`: cases opened, moved through the workflow, verified by the camera, every step recorded;
* `workflow`: the case workflow as data (pure: which status may follow which);
* `payloads`: the one description of each row type that every surface derives from;
* `accounts`: users, roles and tokens; `mode_log`: operating-mode switches; `cameras`: the
  configured cameras as rows.

Used by the pipeline (`citywatch.sink`), the command line and the HTTP API alike; it knows nothing
of HTTP.
"""
