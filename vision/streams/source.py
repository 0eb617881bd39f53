"""Opening a source: a file or an RTSP/HTTP URL opened with PyAV (timeouts, fast probing), and
FFmpeg's and the OS's failures classified into plain reasons, permanent or not (`SourceError`).

The one redaction of source passwords lives here: `redact_url` is how a source URL is shown
anywhere (messages, the API, the database), `redact_text` masks the password of any URL inside a
text (FFmpeg writes the whole URL into its errors) and any known secret given, in all its forms
(`secret_forms`: as written, decoded, percent-encoded). Every message this module raises is redacted.
"""

from __future__ import annotations

import functools
import re
import socket
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote, unquote

import av

from citywatch.config import normalise_source_url, split_source_url
from vision.errors import SourceError

#: Codecs FFmpeg "finds" in text or images that are not camera video.
NOT_CAMERA_VIDEO = frozenset({"ansi", "text", "tty", "bintext", "xbin", "idf", "png", "mjpeg_text"})
#: What a password is replaced with.
MASK = "***"
#: Shorter forms of a secret are masked only inside URLs: masking "123" in every text would garble
#: numbers (and a password that short is not worth hiding from anyone).
MIN_SECRET_LENGTH = 4
#: A URL inside a text, up to a space, a quote or an angle bracket.
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
_HEX_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


def source_path(url: str) -> str:
    """The path or URL PyAV opens for a configured camera URL."""
    return url[len("file://") :] if url.startswith("file://") else url


def redact_url(url: str) -> str:
    """A source URL without its password (rtsp://user:***@host/...), whatever the password holds.

    Example:
        >>> redact_url("rtsp://admin:secret@10.0.0.5:554/stream1")
        'rtsp://admin:***@10.0.0.5:554/stream1'
        >>> redact_url("rtsp://admin:p@ss/w:rd@10.0.0.5/live")
        'rtsp://admin:***@10.0.0.5/live'
        >>> redact_url("../shared/media/vtest.avi")
        '../shared/media/vtest.avi'
    """
    parts = split_source_url(url)
    if parts is None or parts[2] is None:
        return url
    prefix, user, _password, rest = parts
    return f"{prefix}{user}:{MASK}@{rest}"


def secret_forms(secret: str) -> frozenset[str]:
    """Every form a secret may take in a text: as written, percent-decoded, percent-encoded (fully,
    or as in a normalised URL), with upper- or lower-case escapes; none shorter than
    `MIN_SECRET_LENGTH`."""
    if not secret:
        return frozenset()
    decoded = unquote(secret)
    forms = {secret, decoded, quote(decoded, safe="!$&'()*+,;="), quote(decoded, safe="")}
    for form in list(forms):
        forms.add(_HEX_ESCAPE.sub(lambda m: m.group(0).lower(), form))
        forms.add(_HEX_ESCAPE.sub(lambda m: m.group(0).upper(), form))
    return frozenset(form for form in forms if len(form) >= MIN_SECRET_LENGTH)


def url_secrets(url: str) -> frozenset[str]:
    """The forms of a URL's password (none for a file path or a URL without one)."""
    parts = split_source_url(url)
    return secret_forms(parts[2]) if parts is not None and parts[2] else frozenset()


@functools.lru_cache(maxsize=64)
def _secrets_pattern(secrets: frozenset[str]) -> re.Pattern[str] | None:
    if not secrets:
        return None
    return re.compile("|".join(re.escape(s) for s in sorted(secrets, key=len, reverse=True)))


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with the password of every URL in it masked (`redact_url`) and every one of `secrets`
    (give their `secret_forms`) replaced by `***`, so a text with no URL shape (a bare `user:pass`,
    a path FFmpeg printed alone) is masked too.

    Example:
        >>> redact_text("refused: 'rtsp://admin:p@ss/w:rd@10.0.0.5/x'; retried p@ss/w:rd", {"p@ss/w:rd"})
        "refused: 'rtsp://admin:***@10.0.0.5/x'; retried ***"
    """
    if "://" in text:
        text = _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
    pattern = _secrets_pattern(secrets if isinstance(secrets, frozenset) else frozenset(secrets))
    return text if pattern is None else pattern.sub(MASK, text)


def host_of(url: str) -> str | None:
    """The host name of a URL (after the last `@` of its credentials), or None for a file path."""
    if "://" not in url:
        return None
    parts = split_source_url(url)
    rest = parts[3] if parts is not None else url.split("://", 1)[1]
    netloc = re.split(r"[/?#]", rest, maxsplit=1)[0]
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
    """A plain-words reason for an FFmpeg/OS error and whether it is permanent. The error's text
    (FFmpeg's embeds the URL it opened) is quoted with every URL password masked; the reason is
    read from the words around the URL (a port 40431 is no 404) and whole status codes only."""
    text = redact_text(str(exc))
    low = _URL_IN_TEXT.sub(" ", text).lower()
    codes = set(re.findall(r"(?<![\w.])[1-5]\d\d(?![\w.])", low))
    errno = getattr(exc, "errno", None)
    if "name or service not known" in low or "resolve" in low or "no address" in low:
        return f"unknown host ({text})", True
    if "404" in codes or ("not found" in low and "server returned" in low):
        return f"path not found on the server ({text})", True
    if codes & {"401", "403"} or "unauthorized" in low or "forbidden" in low:
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
    """Open a file or stream with PyAV, with timeouts and fast probing for live sources: the open
    is bounded by `open_timeout_s` (PyAV), every later read by FFmpeg's socket timeout of
    `read_timeout_s` (a read with no byte for that long raises `TimeoutError`, errno 110).

    Raises `SourceError` (with `permanent` set for faults a retry will not fix), its message free
    of the URL's password. The URL is opened percent-encoded (`normalise_source_url`)."""
    path = normalise_source_url(source_path(url))
    try:
        return _open(path, open_timeout_s, read_timeout_s)
    except SourceError as exc:
        raise SourceError(redact_text(str(exc), url_secrets(path)), permanent=exc.permanent) from None


def _open(path: str, open_timeout_s: float, read_timeout_s: float) -> av.container.InputContainer:
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
        # PyAV's timeout only while opening: its interrupt callback takes the GIL on every FFmpeg I/O
        # check, thousands of times a second with hundreds of cameras, and times a whole read from
        # Python, so a starved process would call its own lateness a stall. Reads are bounded by
        # FFmpeg's socket `timeout` (above), which waits in C and only when no byte arrives.
        container = av.open(path, options=options, timeout=(open_timeout_s, None) if is_live else None)
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
