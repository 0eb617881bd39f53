"""Opening a source: a file or an RTSP/HTTP URL opened with PyAV (timeouts, fast probing), and
FFmpeg's and the OS's failures classified into plain reasons, permanent or not (`SourceError`).

`redact_url` is the one way a source URL is shown anywhere (messages, the API, the database):
the password is never written out.
"""

from __future__ import annotations

import socket
from pathlib import Path

import av

from vision.errors import SourceError

#: Codecs FFmpeg "finds" in text or images that are not camera video.
NOT_CAMERA_VIDEO = frozenset({"ansi", "text", "tty", "bintext", "xbin", "idf", "png", "mjpeg_text"})


def source_path(url: str) -> str:
    """The path or URL PyAV opens for a configured camera URL."""
    return url[len("file://") :] if url.startswith("file://") else url


def redact_url(url: str) -> str:
    """A source URL without its password (rtsp://user:***@host/...).

    Example:
        >>> redact_url("rtsp://admin:secret@10.0.0.5:554/stream1")
        'rtsp://admin:***@10.0.0.5:554/stream1'
        >>> redact_url("../shared/media/vtest.avi")
        '../shared/media/vtest.avi'
    """
    if "://" not in url or "@" not in url.split("://", 1)[1].split("/", 1)[0]:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.split("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


def host_of(url: str) -> str | None:
    """The host name of a URL, or None for a file path."""
    if "://" not in url:
        return None
    netloc = url.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
    if netloc.startswith("["):
        return netloc[1:].split("]", 1)[0]
    return netloc.split(":", 1)[0] or None


def resolves(host: str) -> bool:
    """Whether a host name resolves (asked only after an open failed, to name the reason)."""
    try:
        socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False
    return True


def explain(exc: BaseException) -> tuple[str, bool]:
    """A plain-words reason for an FFmpeg/OS error and whether it is permanent."""
    text = str(exc)
    low = text.lower()
    errno = getattr(exc, "errno", None)
    if "name or service not known" in low or "resolve" in low or "no address" in low:
        return f"unknown host ({text})", True
    if "404" in low or ("not found" in low and "server returned" in low):
        return f"path not found on the server ({text})", True
    if "401" in low or "403" in low or "unauthorized" in low or "forbidden" in low:
        return f"not authorised ({text})", True
    if "invalid data" in low or "moov atom" in low:
        return f"not a readable video ({text})", True
    if "refused" in low:
        return f"connection refused ({text})", False
    if isinstance(exc, av.ExitError) or "immediate exit" in low:  # PyAV's open/read timeout fired
        return f"timed out (no data within the timeout; {text})", False
    if "timed out" in low or "timeout" in low or errno in (110, 60):
        return f"timed out ({text})", False
    return text, False


def open_container(url: str, open_timeout_s: float = 5.0, read_timeout_s: float = 2.0) -> av.container.InputContainer:
    """Open a file or stream with PyAV, with timeouts and fast probing for live sources.

    Raises `SourceError` (with `permanent` set for faults a retry will not fix)."""
    path = source_path(url)
    is_live = "://" in path
    if not is_live and not Path(path).is_file():
        raise SourceError(f"file not found: {path}", permanent=True)
    options: dict[str, str] = {}
    if is_live:
        options = {
            "timeout": str(int(read_timeout_s * 1_000_000)),  # socket I/O timeout, microseconds
            "analyzeduration": "100000",
            "probesize": "65536",
            "fflags": "nobuffer",
        }
        if path.startswith("rtsp"):
            options["rtsp_transport"] = "tcp"
    try:
        container = av.open(path, options=options, timeout=(open_timeout_s, read_timeout_s) if is_live else None)
    except (av.FFmpegError, OSError) as exc:
        reason, permanent = explain(exc)
        host = host_of(path)
        if host and not permanent and "refused" not in reason and not resolves(host):
            reason, permanent = f"unknown host {host!r} (name does not resolve)", True
        raise SourceError(f"cannot open {redact_url(path)}: {reason}", permanent=permanent) from None
    streams = container.streams.video
    if is_live and streams and streams[0].codec_context.name not in NOT_CAMERA_VIDEO and not streams[0].width:
        container.close()  # a video stream is announced but no picture arrived while probing
        raise SourceError(f"cannot open {redact_url(path)}: timed out waiting for the first video frame")
    if not streams or streams[0].codec_context.name in NOT_CAMERA_VIDEO or not streams[0].width:
        what = streams[0].codec_context.name if streams else container.format.name
        container.close()
        raise SourceError(f"no camera video in {redact_url(path)} (found {what})", permanent=True)
    return container
