"""Event clips from a live RTSP camera (the GStreamer test server): the H.264 packets copied into an
MP4 a browser plays, from before the trigger to after it, attached to the stored event."""

from __future__ import annotations

import json
import re
import subprocess
import threading
from pathlib import Path

import pytest

from citywatch.config import CitywatchConfig
from citywatch.detectors import load_detector
from citywatch.domain.cameras import register_cameras
from citywatch.domain.db import open_database
from citywatch.domain.tables import Event
from citywatch.runtime import Runtime
from citywatch.sink import EventSink
from tests.support import demo_config_dict

pytestmark = [pytest.mark.rtsp, pytest.mark.e2e, pytest.mark.timeout(150)]

PRE_S, POST_S = 3.0, 3.0


def test_a_live_cameras_event_gets_an_h264_clip_around_its_trigger(
    tmp_path: Path, campus_rtsp: str, model_dir: Path
) -> None:
    data = demo_config_dict(tmp_path, url=campus_rtsp, record={"clips": True, "pre_s": PRE_S, "post_s": POST_S})
    data["cameras"][0]["rules"][0]["min_dwell_s"] = 5
    config = CitywatchConfig.model_validate(data)
    database = open_database(config.storage.database_url)
    register_cameras(database, config.cameras)
    sink = EventSink.from_config(config, database)
    events: list[dict] = []
    clips: dict[str, str | None] = {}
    clipped = threading.Event()
    sink.listeners.append(events.append)
    sink.clip_listeners.append(lambda uid, clip: (clips.__setitem__(uid, clip), clipped.set()))
    runtime = Runtime(config, load_detector(config.detector), sink)
    runtime.start()
    try:
        assert clipped.wait(60), f"no clip within 60 s (events: {events})"
        alerted_before_clip = bool(events)
    finally:
        runtime.stop()
        sink.close()
    (event,) = events
    assert alerted_before_clip  # the alert was not held back for post_s
    clip = clips[event["uid"]]
    assert clip is not None and Path(clip).is_file()
    with database.session() as session:
        stored = session.query(Event).one()
        assert stored.clip is not None and config.storage.recordings_root / stored.clip == Path(clip)
    database.dispose()

    info = json.loads(
        subprocess.run(
            ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-show_packets", "-of", "json", clip],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
    )
    (stream,) = info["streams"]
    # the camera's own H.264, as served (no re-encode), in an MP4 a browser plays: avc1, yuv420p, faststart
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 768, 576)
    assert stream["codec_tag_string"] == "avc1" and stream["pix_fmt"] == "yuv420p"
    assert stream["profile"] in {"High", "Main", "Constrained Baseline", "Baseline"}
    data_bytes = Path(clip).read_bytes()
    assert data_bytes.index(b"moov") < data_bytes.index(b"mdat")
    match = re.fullmatch(r"stream ([\d.]+)-([\d.]+) s, trigger ([\d.]+) s", info["format"]["tags"]["comment"])
    assert match, info["format"]["tags"]
    first, last, trigger = (float(x) for x in match.groups())
    assert trigger == pytest.approx(event["triggered_s"], abs=1e-3)
    assert trigger - PRE_S - 1.0 - 0.01 <= first <= trigger - PRE_S + 0.01  # the keyframe at or before (1 s GOP)
    assert last >= trigger + POST_S
    packets = info["packets"]
    assert "K" in packets[0]["flags"]
    assert len(packets) >= (last - first) * 10 * 0.95  # every frame of the window, none dropped
