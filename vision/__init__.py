"""Citywatch's vision pipeline: stream -> frame -> detections -> tracks -> events.

`streams` reads cameras and files into `frames.Frame`s, `detect` turns frames into labelled boxes,
`track` gives boxes identities over time, `zones` holds the geometry and `rules` decides what
becomes an event; `evidence` draws and writes the photo that proves it.
"""

from vision.offline import ensure_offline_ultralytics

ensure_offline_ultralytics()
