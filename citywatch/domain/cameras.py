"""The configured cameras and zones as rows, so events and cases can reference them; their source
URLs are stored without passwords, and the passwords (with the database's) become known secrets
that every output masks (`citywatch.redaction`)."""

from __future__ import annotations

from citywatch import redaction
from citywatch.config import CameraConfig
from citywatch.domain.db import Database
from citywatch.domain.tables import Camera, Zone
from vision.streams import redact_url


def register_cameras(database: Database, cameras: list[CameraConfig]) -> None:
    """Insert or update the configured cameras and their zones (source URLs without passwords),
    and register the camera and database passwords with `citywatch.redaction`."""
    redaction.register_url(database.url)
    for camera in cameras:
        redaction.register_url(camera.url)
    with database.session() as session:
        for camera in cameras:
            row = session.get(Camera, camera.id) or Camera(id=camera.id)
            row.name, row.district, row.street = camera.name, camera.district, camera.street
            row.source, row.enabled = redact_url(camera.url), camera.enabled
            session.add(row)
            session.flush()
            for zone in camera.zones:
                zone_row = session.get(Zone, (camera.id, zone.id)) or Zone(camera_id=camera.id, id=zone.id)
                zone_row.name, zone_row.polygon = zone.name or "", [list(p) for p in zone.polygon]
                session.add(zone_row)
