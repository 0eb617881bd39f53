"""Citywatch: camera monitoring for a city's urban-management bureau.

This package holds what wires the pipeline together: typed configuration, the model store, the
per-camera runtime, the event sink and the command line. The stages themselves live in `vision`
(streams, detection, tracking, rules) and the service in `api`.
"""

__version__ = "0.1.0"
