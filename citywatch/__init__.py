"""Citywatch: camera monitoring for a city's urban-management bureau.

The application: typed configuration (`config`), the model store and detectors, the per-camera
`pipeline` and the `runtime` that hosts pipelines, the event sink, modes, publishing, the command
line, and the `domain`, where events become cases. The analysis stages live in `vision`; the HTTP
service in `api`, which builds on this package (never the other way round).
"""

__version__ = "0.1.0"
