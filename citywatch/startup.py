"""Starting Citywatch from a config, and stopping it in order.

`open_pipeline(config)` checks and opens every model first (a missing or corrupt model, or a rule
waiting for a label no model produces, stops start-up before anything else runs), then opens (and
migrates) the database, registers the configured cameras and makes the event sink, with a
publisher when MQTT or webhooks are configured. `close_sink` lets spooled and held events reach
the database briefly, then stops the sink and its publisher.
Used by `citywatch replay`, `citywatch run` and `citywatch eval`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from citywatch.config import CitywatchConfig
from citywatch.config.loading import config_error
from citywatch.detectors import load_detector_set, unproduced_labels
from citywatch.domain.cameras import register_cameras
from citywatch.domain.db import Database, open_database
from citywatch.publish import Publisher
from citywatch.sink import EventSink
from vision.detect import DetectorSet

log = logging.getLogger(__name__)


def open_pipeline(config: CitywatchConfig, source: str | Path | None = None) -> tuple[DetectorSet, Database, EventSink]:
    """(detectors, database, sink) of a config, each checked and ready. A rule whose labels no
    model produces is a `ConfigError` (with lines from `source`, the config file, when given)."""
    detector = load_detector_set(config.detector, config.detectors)  # every model, checked, before anything runs
    problems = unproduced_labels(config, {name: det.labels for name, det in detector.detectors.items()})
    if problems:
        detector.close()
        raise config_error(source, problems)
    database = open_database(config.storage.database_url)
    register_cameras(database, config.cameras)
    publisher = Publisher.from_config(config) if config.mqtt.enabled or config.webhooks else None
    return detector, database, EventSink.from_config(config, database, publisher)


def close_sink(sink: EventSink) -> None:
    """Let spooled and held events reach the database (briefly), then stop the sink and its publisher."""
    if (sink.spooled or sink.held) and not sink.flush(timeout=10) and sink.spool is not None and sink.spooled:
        log.warning("%d event(s) stay in the spool %s until the database returns", sink.spooled, sink.spool.path)
    sink.close()
    if sink.publisher is not None:
        sink.publisher.stop()
