#!/usr/bin/python3
"""A real RTSP test server (GStreamer gst-rtsp-server) serving looping H.264 files without re-encoding.

Runs under Debian's /usr/bin/python3 (where python3-gi lives), as a separate process started by
the pytest fixtures in tests/rtsp/fixtures.py and by bench/ingest. Each `--path NAME=FILE[@FPS]`
serves an Annex-B H.264 file (encode it with `-bf 0` and repeated headers) at rtsp://127.0.0.1:PORT/NAME,
looping forever; all clients of one path share one pipeline, so one process serves hundreds of
clients cheaply. Control lines on stdin:

    stall NAME    keep connections open but send no video (buffers dropped after clocksync)
    resume NAME   send video again
    quit          exit

It prints `READY <port>` on stdout once it listens. Only ever binds 127.0.0.1.
"""

from __future__ import annotations

import argparse
import sys
import threading

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

STALLED: set[str] = set()


def _pts_from_dts(_pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
    """Raw H.264 has no pts; h264parse gives dts only. Payloaders need pts (no B-frames: pts == dts)."""
    buf = info.get_buffer()
    if buf is not None and buf.pts == Gst.CLOCK_TIME_NONE:
        buf.pts = buf.dts
    return Gst.PadProbeReturn.OK


def _make_stall_probe(name: str):
    def probe(_pad: Gst.Pad, _info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        return Gst.PadProbeReturn.DROP if name in STALLED else Gst.PadProbeReturn.OK

    return probe


def _on_media_configure(_factory, media, name: str) -> None:
    element = media.get_element()
    parse = element.get_by_name("parse")
    parse.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, _pts_from_dts)
    sync = element.get_by_name("sync")
    sync.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, _make_stall_probe(name))


def build_server(port: int, paths: dict[str, tuple[str, int]]) -> GstRtspServer.RTSPServer:
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    mounts = server.get_mount_points()
    for name, (location, fps) in paths.items():
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(
            f'( multifilesrc location="{location}" loop=true '
            f'caps="video/x-h264,stream-format=byte-stream,framerate={fps}/1" '
            "! h264parse name=parse config-interval=-1 ! clocksync name=sync "
            "! rtph264pay name=pay0 pt=96 config-interval=-1 )"
        )
        factory.set_shared(True)
        factory.connect("media-configure", _on_media_configure, name)
        mounts.add_factory("/" + name, factory)
    return server


def _control(loop: GLib.MainLoop) -> None:
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "stall" and len(parts) == 2:
            STALLED.add(parts[1])
        elif parts[0] == "resume" and len(parts) == 2:
            STALLED.discard(parts[1])
        elif parts[0] == "quit":
            break
        print(f"OK {line.strip()}", flush=True)
    GLib.idle_add(loop.quit)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--path", action="append", default=[], help="NAME=FILE.h264[@FPS] (repeatable)")
    args = parser.parse_args()
    Gst.init(None)
    paths: dict[str, tuple[str, int]] = {}
    for spec in args.path:
        name, _, rest = spec.partition("=")
        location, _, fps = rest.partition("@")
        paths[name] = (location, int(fps or 25))
    server = build_server(args.port, paths)
    loop = GLib.MainLoop()
    if server.attach(None) == 0:
        print(f"ERROR cannot listen on 127.0.0.1:{args.port}", flush=True)
        return 2
    print(f"READY {server.get_bound_port()}", flush=True)
    threading.Thread(target=_control, args=(loop,), daemon=True).start()
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
