"""Live view: each camera's packets remuxed to fragmented MP4 for browsers (Media Source
Extensions), without transcoding. `LiveCamera.tap` sits in the reader's demux loop
(`chain_taps`); while nobody watches it only keeps references to the current GOP's packets, so a
viewer starts at once from the newest keyframe. With viewers it remuxes each packet
(`vision.record.live_mux`) and hands the fragment to every viewer's bounded queue
(`vision.record.live_viewer`). `LiveHub` holds every camera's and bounds the viewers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av

from vision.record.live_mux import FragmentMuxer, codec_string
from vision.record.live_viewer import LiveViewer
from vision.record.ring import StreamTemplate
from vision.streams.clock import StreamClock

log = logging.getLogger(__name__)

#: The most bytes of the current GOP kept for a fast start (a longer GOP starts at the next keyframe).
GOP_MAX_BYTES = 8 * 1024 * 1024
NOT_PLAYABLE = "not playable in a browser without transcoding"


class LiveRefused(Exception):
    """A viewer could not join: `code` (`not_running`, `camera_limit`, `process_limit`) and why."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code, self.detail = code, detail


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """One reading session's video stream, as a viewer's first message says it."""

    codec: str
    codec_string: str | None
    width: int
    height: int
    session: int

    def message(self, media_zero_s: float | None) -> dict[str, Any]:
        playable = self.codec_string is not None
        return {
            "kind": "session",
            "session": self.session,
            "codec": self.codec,
            "mime": f'video/mp4; codecs="{self.codec_string}"' if playable else None,
            "width": self.width,
            "height": self.height,
            "playable": playable,
            "detail": None if playable else f"{self.codec}: {NOT_PLAYABLE}",
            "media_zero_s": media_zero_s,  # stream time at media time 0
        }


class LiveCamera:
    """One camera's live view. Thread-safe: `tap` runs in the reader's thread, `join`/`leave` in
    the API's. The muxing runs in the reader's thread only while viewers are present.

    Example:
        >>> live = LiveCamera("cam")
        >>> reader = StreamReader(camera, packet_tap=live.tap)  # doctest: +SKIP
        >>> viewer = live.join()  # then viewer.take() for messages  # doctest: +SKIP
    """

    def __init__(self, camera_id: str, *, max_viewers: int = 8):
        self.camera_id = camera_id
        self.max_viewers = max_viewers
        self._lock = threading.Lock()
        self._viewers: list[LiveViewer] = []
        self._pending: list[LiveViewer] = []
        self._info: SessionInfo | None = None
        self._sessions = 0
        self.newest_s: float | None = None
        self.fragments = 0

    @property
    def info(self) -> SessionInfo | None:
        return self._info

    def viewer_count(self) -> int:
        with self._lock:
            return len(self._viewers) + len(self._pending)

    def join(self, viewer: LiveViewer | None = None) -> LiveViewer:
        """A new viewer: it gets the session message and init segment, then the fragments from the
        newest keyframe on. Raises `LiveRefused` over `max_viewers`; a codec a browser cannot play
        gets the session message only (with `playable: false`)."""
        viewer = viewer or LiveViewer(self.camera_id)
        with self._lock:
            if len(self._viewers) + len(self._pending) >= self.max_viewers:
                raise LiveRefused("camera_limit", f"at most {self.max_viewers} live viewers per camera")
            info = self._info
            if info is not None and info.codec_string is None:
                viewer.put_control(info.message(None))
                return viewer
            self._pending.append(viewer)
        return viewer

    def leave(self, viewer: LiveViewer) -> None:
        with self._lock:
            for group in (self._viewers, self._pending):
                if viewer in group:
                    group.remove(viewer)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            viewers = [*self._viewers, *self._pending]
            return {
                "viewers": len(viewers),
                "drops": sum(v.drops for v in viewers),
                "fragments": self.fragments,
                "newest_s": self.newest_s,
                "codec": self._info.codec if self._info else None,
                "playable": bool(self._info and self._info.codec_string),
            }

    def tap(self, packets: Iterator[av.Packet], stream: Any, clock: StreamClock) -> Iterator[av.Packet]:
        """Pass a session's packets through unchanged; remux them for viewers while any watch."""
        session = _Session(self, stream, clock)
        try:
            for packet in packets:
                if session.on and packet.size:
                    try:
                        session.add(packet)
                    except Exception:  # a bug here must cost the live view, never the camera
                        log.exception("camera %s: live view stopped for this session", self.camera_id)
                        session.stop()
                yield packet
        finally:
            session.stop()

    # --- called by the session, in the reader's thread ------------------------------------------

    def _begin(self, stream: Any) -> SessionInfo:
        context = stream.codec_context
        extradata = bytes(context.extradata) if context.extradata else None
        with self._lock:
            self._sessions += 1
            self._info = SessionInfo(
                context.name, codec_string(context.name, extradata), context.width, context.height, self._sessions
            )
            if self._info.codec_string is None:  # every viewer learns it cannot play this session
                for viewer in [*self._viewers, *self._pending]:
                    viewer.put_control(self._info.message(None), reset=True)
            else:  # every viewer restarts with this session's init segment
                for viewer in self._viewers:
                    viewer.started = False
                self._pending.extend(self._viewers)
                self._viewers.clear()
            return self._info

    def _requeue(self, viewer: LiveViewer) -> None:
        """A viewer that joined before the session had a keyframe: it starts at the next one."""
        with self._lock:
            if viewer in self._viewers:
                self._viewers.remove(viewer)
                self._pending.append(viewer)

    def _watchers(self) -> tuple[list[LiveViewer], list[LiveViewer]]:
        with self._lock:
            pending, self._pending = self._pending, []
            self._viewers.extend(pending)
            return list(self._viewers), pending


class _Session:
    """One reading session of a `LiveCamera`: the current GOP and, while watched, its muxer."""

    def __init__(self, camera: LiveCamera, stream: Any, clock: StreamClock):
        self.camera, self.clock = camera, clock
        self.time_base = stream.time_base or Fraction(1, 90000)
        self.info = camera._begin(stream)
        self.on = self.info.codec_string is not None
        self.template: StreamTemplate | None = None
        if self.on:
            try:
                self.template = StreamTemplate(stream)
            except (ValueError, av.FFmpegError) as exc:
                log.warning("camera %s: no live view this session: %s", camera.camera_id, exc)
                self.on = False
        self.gop: list[tuple[av.Packet, int, int, bool, float]] = []
        self.gop_bytes = 0
        self.gop_fragments: list[tuple[bool, bytes]] = []
        self.muxer: FragmentMuxer | None = None
        self.media_zero_s: float | None = None
        self.last_pts: int | None = None

    def add(self, packet: av.Packet) -> None:
        pts = packet.pts if packet.pts is not None else packet.dts
        if pts is None:  # no timestamps: one frame interval per packet
            pts = (self.last_pts or 0) + max(1, round(self.clock.frame_interval / float(self.time_base)))
        dts = packet.dts if packet.dts is not None else pts
        self.last_pts = pts
        pts_s = float(pts * self.time_base)
        stream_s = self.clock.time_of(pts_s)
        stream_s = pts_s if stream_s is None else stream_s
        key = bool(packet.is_keyframe)
        self.camera.newest_s = stream_s
        if key:
            self.gop, self.gop_bytes = [], 0
        if (self.gop or key) and self.gop_bytes + packet.size <= GOP_MAX_BYTES:
            self.gop.append((packet, pts, dts, key, stream_s))
            self.gop_bytes += packet.size
        viewers, pending = self.camera._watchers()
        if not viewers:
            self._close_muxer()
            return
        if self.muxer is None:
            self._open_muxer()
        else:
            self._mux(packet, pts, dts, key, stream_s, viewers)
        for viewer in pending:
            self._start(viewer)

    def _open_muxer(self) -> None:
        """A muxer from the newest keyframe: the kept GOP (this packet included) goes in at once."""
        if not self.gop or self.template is None:
            return
        self.muxer = FragmentMuxer(self.template)
        self.gop_fragments = []
        first_dts = self.gop[0][2]
        self.media_zero_s = self.gop[0][4] - float((self.gop[0][1] - first_dts) * self.time_base)
        for packet, pts, dts, key, stream_s in self.gop:
            self._mux(packet, pts, dts, key, stream_s, [])

    def _mux(
        self, packet: av.Packet, pts: int, dts: int, key: bool, stream_s: float, viewers: list[LiveViewer]
    ) -> None:
        assert self.muxer is not None
        for frag_key, _s, fragment in self.muxer.add(bytes(packet), pts, dts, key=key, stream_s=stream_s):
            if frag_key:
                self.gop_fragments = []
            self.gop_fragments.append((frag_key, fragment))
            self.camera.fragments += 1
            for viewer in viewers:
                if viewer.started:
                    viewer.put_fragment(fragment, key=frag_key)

    def _start(self, viewer: LiveViewer) -> None:
        """Session message, init segment and the current GOP's fragments to a new viewer."""
        if self.muxer is None or self.muxer.init is None:
            self.camera._requeue(viewer)
            return
        viewer.put_control(self.info.message(self.media_zero_s), reset=True)
        viewer.put_control(self.muxer.init)
        for key, fragment in self.gop_fragments:
            viewer.put_fragment(fragment, key=key)
        viewer.started = True

    def _close_muxer(self) -> None:
        if self.muxer is not None:
            self.muxer.close()
            self.muxer = None

    def stop(self) -> None:
        self.on = False
        self._close_muxer()
        self.gop = []


class LiveHub:
    """Every camera's `LiveCamera` of this process, and the bound on viewers of them all.

    Example:
        >>> hub = LiveHub(max_viewers=32, max_per_camera=8)
        >>> tap = hub.camera("cam").tap  # into the reader's `chain_taps` list
        >>> hub.join("cam").camera_id
        'cam'
    """

    def __init__(self, *, max_viewers: int = 32, max_per_camera: int = 8):
        self.max_viewers, self.max_per_camera = max_viewers, max_per_camera
        self._cameras: dict[str, LiveCamera] = {}
        self._lock = threading.Lock()

    def camera(self, camera_id: str) -> LiveCamera:
        """The camera's live view (made at the first call: the runtime's, when it builds the reader)."""
        with self._lock:
            if camera_id not in self._cameras:
                self._cameras[camera_id] = LiveCamera(camera_id, max_viewers=self.max_per_camera)
            return self._cameras[camera_id]

    def has(self, camera_id: str) -> bool:
        return camera_id in self._cameras

    def join(self, camera_id: str) -> LiveViewer:
        """A viewer of a camera read by this process; `LiveRefused` when not, or over the bounds."""
        with self._lock:
            live = self._cameras.get(camera_id)
            total = sum(camera.viewer_count() for camera in self._cameras.values())
            if live is None:
                raise LiveRefused("not_running", f"camera {camera_id} is not read by this process")
            if total >= self.max_viewers:
                raise LiveRefused("process_limit", f"at most {self.max_viewers} live viewers in this process")
            return live.join()

    def leave(self, viewer: LiveViewer) -> None:
        live = self._cameras.get(viewer.camera_id)
        if live is not None:
            live.leave(viewer)

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per camera: viewers, drops, fragments sent, newest packet's stream time, codec."""
        return {camera_id: camera.stats() for camera_id, camera in sorted(self._cameras.items())}
