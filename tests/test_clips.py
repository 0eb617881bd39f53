"""Event clips: the packet ring on a real reader, the MP4 remux (stream copy), the writer's failures,
the sink pointing rows at clips, the `record:` config, and `citywatch replay --json` end to end."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from citywatch.config import CameraConfig, ConfigError, load_config
from citywatch.domain.cameras import register_cameras
from citywatch.domain.db import open_database
from citywatch.domain.tables import Event
from citywatch.sink import EventSink
from tests.ledger_support import parking_record
from tests.support import REPO, demo_config_dict, write_config
from vision.evidence import FAULT_ENOSPC_ENV
from vision.record import Clip, ClipWriter, PacketRing, write_clip
from vision.streams import StreamReader

FPS, GOP = 10, 10  # the synthetic camera: 10 fps, a keyframe every second


def synthetic(tmp_path: Path, seconds: int = 12) -> Path:
    """An H.264 MP4 (320x240, 10 fps, a keyframe each second, no B-frames) from FFmpeg's test pattern."""
    path = tmp_path / f"synthetic-{seconds}s.mp4"
    pattern = ["-f", "lavfi", "-i", f"testsrc=size=320x240:rate={FPS}", "-t", str(seconds)]
    h264 = ["-c:v", "libx264", "-preset", "veryfast", "-bf", "0", "-g", str(GOP), "-keyint_min", str(GOP)]
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", *pattern, *h264, "-sc_threshold", "0", "-pix_fmt", "yuv420p", str(path)],
        check=True,
        timeout=120,
    )
    return path


def probe(path: Path) -> dict:
    """ffprobe's view of a clip: its stream, format (with tags) and every packet (flags, data hash)."""
    what = ["-show_streams", "-show_format", "-show_packets", "-show_data_hash", "MD5"]
    out = subprocess.run(
        ["ffprobe", "-v", "error", *what, "-of", "json", str(path)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return json.loads(out.stdout)


def coverage(info: dict) -> tuple[float, float, float]:
    """(first packet, last packet, trigger) in stream seconds, from the clip's own comment tag."""
    match = re.fullmatch(r"stream ([\d.]+)-([\d.]+) s, trigger ([\d.]+) s", info["format"]["tags"]["comment"])
    assert match, info["format"]["tags"]
    first, last, trigger = (float(x) for x in match.groups())
    return first, last, trigger


def source_hashes(path: Path) -> list[str]:
    return [p["data_hash"] for p in probe(path)["packets"]]


def replay_with_ring(
    path: Path, ring_window_s: float, triggers: dict[str, float], *, pre_s: float, post_s: float, **ring: int
) -> tuple[PacketRing, list[Clip]]:
    """Read `path` as a camera through a ring, requesting a clip when a frame reaches each trigger time."""
    clips: list[Clip] = []
    packet_ring = PacketRing("cam", window_s=ring_window_s, on_clip=clips.append, **ring)
    reader = StreamReader(
        CameraConfig(id="cam", url=str(path), analysis_fps=FPS), speed="fast", packet_tap=packet_ring.tap
    )
    pending = dict(triggers)
    for frame in reader.frames():
        for key, at in list(pending.items()):
            if frame.stream_s >= at - 1e-6:
                packet_ring.request(key, f"cam/{key}.mp4", trigger_s=frame.stream_s, pre_s=pre_s, post_s=post_s)
                del pending[key]
    return packet_ring, clips


def test_a_clip_is_the_cameras_own_packets_from_the_keyframe_before_pre_s_to_post_s(tmp_path: Path) -> None:
    source = synthetic(tmp_path)
    _, clips = replay_with_ring(source, 8.0, {"ev": 6.0}, pre_s=2.5, post_s=2.0)
    (clip,) = clips
    assert not clip.ended_early
    written = write_clip(clip, tmp_path / "rec" / clip.name)
    info = probe(written.path)
    (stream,) = info["streams"]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 320, 240)
    assert stream["codec_tag_string"] == "avc1" and "mp4" in info["format"]["format_name"]
    first, last, trigger = coverage(info)
    assert trigger == pytest.approx(6.0)
    assert first == pytest.approx(3.0)  # the keyframe at or before 6.0 - 2.5
    assert last >= trigger + 2.0
    packets = info["packets"]
    assert "K" in packets[0]["flags"] and float(stream["duration"]) >= 6.0 + 2.0 - 3.0
    # stream copy: the very packets of the source, from its keyframe at 3.0 s on, byte for byte
    hashes = source_hashes(source)
    start = round(first * FPS)
    assert [p["data_hash"] for p in packets] == hashes[start : start + len(packets)]
    data = written.path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat"), "not faststart: the index must come first"
    assert not list((tmp_path / "rec").rglob("*.part"))


def test_the_ring_keeps_whole_gops_bounded_by_time_and_by_bytes(tmp_path: Path) -> None:
    source = synthetic(tmp_path)
    by_time, _ = replay_with_ring(source, 2.0, {}, pre_s=0, post_s=0)
    assert 2.0 <= by_time.seconds < 2.0 + 1.0  # the newest keyframe-aligned 2 s (a GOP is 1 s)
    gop_bytes = by_time.bytes / 3
    by_bytes, _ = replay_with_ring(source, 60.0, {}, pre_s=0, post_s=0, max_bytes=int(gop_bytes * 2))
    assert by_bytes.dropped_for_bytes > 0 and by_bytes.bytes <= int(gop_bytes * 2)
    assert by_bytes.seconds < 3.0


def test_a_source_that_ends_finishes_its_clips_with_what_it_has(tmp_path: Path) -> None:
    source = synthetic(tmp_path, seconds=8)
    ring, clips = replay_with_ring(source, 8.0, {"near-end": 7.0}, pre_s=1.0, post_s=5.0)
    (clip,) = clips  # handed over when the file ended, not 5 s later
    assert clip.ended_early and clip.first_s == pytest.approx(6.0) and clip.last_s == pytest.approx(7.9)
    late: list[Clip] = []
    ring.on_clip = late.append  # a frame analysed after its reader ended still gets its clip
    ring.request("late", "cam/late.mp4", trigger_s=7.5, pre_s=2.0, post_s=5.0)
    (after,) = late
    assert after.first_s == pytest.approx(5.0) and after.ended_early
    info = probe(write_clip(after, tmp_path / after.name).path)
    assert int(info["streams"][0]["nb_frames"]) == 30  # 5.0 s to the file's end at 8.0 s


def test_clips_that_cannot_be_written_are_reported_and_leave_nothing_behind(tmp_path: Path) -> None:
    source = synthetic(tmp_path, seconds=4)
    _, (clip,) = replay_with_ring(source, 8.0, {"ev": 2.0}, pre_s=1.0, post_s=1.0)
    outcomes: list[tuple[str, str | None, str | None]] = []

    def record(*outcome: str | None) -> None:
        outcomes.append(outcome)  # type: ignore[arg-type]

    over = ClipWriter(tmp_path / "small", max_bytes=clip.size - 1, on_done=record)
    over.submit(clip)
    over.close()
    assert outcomes[-1][:2] == ("ev", None) and "over their limit" in str(outcomes[-1][2])
    full = tmp_path / "full"
    full.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(full)], capture_output=True).returncode:
        pytest.skip("mounting a tmpfs is not permitted here")
    try:
        (full / "filler").write_bytes(b"\0" * (60 * 1024))
        writer = ClipWriter(full, max_bytes=10**12, on_done=record)
        writer.submit(clip)
        writer.close()
        assert outcomes[-1][:2] == ("ev", None) and "recordings disk full" in str(outcomes[-1][2])
        assert list(full.rglob("*.mp4*")) == []  # no partial clip left on the full disk
        (full / "filler").unlink()
        writer = ClipWriter(full, max_bytes=10**12, on_done=record)
        writer.submit(clip)
        writer.close()
        assert outcomes[-1] == ("ev", "cam/ev.mp4", None) and (full / "cam" / "ev.mp4").is_file()
    finally:
        subprocess.run(["umount", "-l", str(full)], check=False)


def test_the_sink_points_the_stored_event_at_its_clip_once_written(tmp_path: Path) -> None:
    config_data = demo_config_dict(tmp_path)
    database = open_database(config_data["storage"]["database_url"])
    register_cameras(database, load_config(write_config(tmp_path, config_data)).cameras)
    sink = EventSink(database, tmp_path / "evidence")
    heard: list[tuple[str, str | None]] = []
    sink.clip_listeners.append(lambda uid, clip: heard.append((uid, clip)))
    with_clip, without = parking_record(i=1), parking_record(i=2)
    assert sink.record(with_clip)["clip"] is None  # the alert is stored at once, its clip comes later
    sink.record(without)
    sink.attach_clip(with_clip.uid, sink.clip_name(with_clip))
    sink.attach_clip(without.uid, None, "recordings disk full")
    with database.session() as session:
        clips = {row.uid: row.clip for row in session.query(Event)}
    assert clips == {with_clip.uid: sink.clip_name(with_clip), without.uid: None}
    assert sink.clip_name(with_clip).startswith("campus-road/") and sink.clip_name(with_clip).endswith(".mp4")
    assert heard == [(with_clip.uid, str(tmp_path / "recordings" / sink.clip_name(with_clip))), (without.uid, None)]
    sink.close()
    database.dispose()


@pytest.mark.parametrize(
    ("record", "where", "what"),
    [
        ({"continuous": True, "segment_s": 5}, "cameras[0].record.segment_s", "greater than or equal to 10"),
        ({"pre_s": -1}, "cameras[0].record.pre_s", "greater than or equal to 0"),
        ({"post_s": 500}, "cameras[0].record.post_s", "less than or equal to 120"),
        ({"clip": True}, "cameras[0].record.clip", "Extra inputs"),
    ],
)
def test_bad_record_settings_name_their_line_and_field(tmp_path: Path, record: dict, where: str, what: str) -> None:
    data = demo_config_dict(tmp_path)
    data["cameras"][0]["record"] = record
    with pytest.raises(ConfigError) as info:
        load_config(write_config(tmp_path, data))
    (problem,) = info.value.problems
    assert re.match(rf"line \d+: {re.escape(where)}\b", problem), problem
    assert what in problem


def test_record_defaults_and_the_demo_config() -> None:
    demo = load_config(REPO / "configs" / "demo.yaml")
    record = demo.cameras[0].record
    assert (record.clips, record.pre_s, record.post_s, record.continuous) == (True, 5.0, 5.0, False)
    assert demo.storage.recordings_root == Path("data/recordings")
    assert CameraConfig(id="c", url="x.mp4").record.clips is True


@pytest.mark.e2e
def test_replay_json_carries_each_events_clip(tmp_path: Path, vtest_path: Path, model_dir: Path) -> None:
    data = demo_config_dict(tmp_path)
    data["cameras"][0]["record"] = {"clips": True, "pre_s": 5, "post_s": 5}
    config = write_config(tmp_path, data)
    result = subprocess.run(
        [sys.executable, "-m", "citywatch", "replay", "--config", str(config), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (line,) = result.stdout.splitlines()  # one line per event, carrying its clip
    event = json.loads(line)
    clip = Path(event["clip"])
    assert clip.is_file() and clip.is_relative_to(tmp_path / "recordings")
    info = probe(clip)
    (stream,) = info["streams"]
    source = probe(vtest_path)
    (original,) = [s for s in source["streams"] if s["codec_type"] == "video"]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("msmpeg4v3", 768, 576)
    assert (original["codec_name"], original["width"], original["height"]) == ("msmpeg4v3", 768, 576)
    first, last, trigger = coverage(info)
    assert trigger == pytest.approx(event["triggered_s"], abs=1e-3)
    assert first <= event["triggered_s"] - 5 and last >= event["triggered_s"] + 5
    hashes = [p["data_hash"] for p in source["packets"]]  # 10 fps from 0: packet i is stream second i / 10
    start = round(first * 10)
    assert [p["data_hash"] for p in info["packets"]] == hashes[start : start + len(info["packets"])]


def test_a_clip_waits_behind_its_event_while_the_evidence_disk_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_config(write_config(tmp_path, demo_config_dict(tmp_path)))
    database = open_database(config.storage.database_url)
    register_cameras(database, config.cameras)
    sink = EventSink.from_config(config, database)
    sink.retry_s = 0.05
    flag = tmp_path / "evidence-full.flag"
    monkeypatch.setenv(FAULT_ENOSPC_ENV, str(flag))
    flag.touch()  # the evidence disk is full: the event waits in memory with its photos
    record = parking_record()
    assert sink.record(record)["spooled"] is True
    sink.attach_clip(record.uid, sink.clip_name(record))  # the clip is on its own disk, done first
    with database.session() as session:
        assert session.query(Event).count() == 0  # nothing points anywhere before the photos are on disk
    flag.unlink()
    assert sink.flush(timeout=20)
    with database.session() as session:
        row = session.query(Event).one()
        assert row.clip == sink.clip_name(record) and row.snapshot_path is not None
    sink.close()
    database.dispose()
