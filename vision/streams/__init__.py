"""Streams: RTSP cameras and recorded files in, sampled `Frame`s with stream time out.

One module per seam:

* `source`: opening a file or URL with PyAV (timeouts, fast probing), failures classified into
  plain reasons (`SourceError`), and `redact_url`, the one way a URL is shown;
* `clock`: stream time from pts, monotonic across loops, reconnects, pts resets, jumps and
  wraparounds (`StreamClock`), and the fixed stream-time grid of analysed frames (`Sampler`), so
  a file replayed `fast`, `realtime` or at any factor yields the same frames;
* `reader`: `StreamReader`, which decodes only what the analysis rate needs (keyframes only, or
  all frames with only sampled ones converted), paces replays and reconnects live sources forever
  with backoff and jitter;
* `slot`: `LatestFrameSlot`, which hands a slower consumer only the newest frame of a live reader
  and counts the stale ones it drops, so nothing queues without bound;
* `health`: `StreamState`, the counters of `StreamHealth` and their one JSON form, `health_snapshot`;
* `stall`: `is_stall` (a read timeout is a stall only beyond the process's own lateness, measured by
  `LatenessMonitor`) and `Gate` (how many cameras open, or decode, at once);
* `pool`: `AnalysisPool`, a few threads analysing the newest frames of many live cameras.
"""

from vision.streams.clock import Sampler, StreamClock
from vision.streams.health import StreamHealth, StreamState, health_snapshot
from vision.streams.reader import DECODE_ALL, DECODE_AUTO, DECODE_KEYFRAMES, StreamReader, choose_decode
from vision.streams.slot import LatestFrameSlot
from vision.streams.source import SourceError, open_container, redact_url, source_path

__all__ = [
    "DECODE_ALL",
    "DECODE_AUTO",
    "DECODE_KEYFRAMES",
    "LatestFrameSlot",
    "Sampler",
    "SourceError",
    "StreamClock",
    "StreamHealth",
    "StreamReader",
    "StreamState",
    "choose_decode",
    "health_snapshot",
    "open_container",
    "redact_url",
    "source_path",
]
