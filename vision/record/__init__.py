"""Recording: event clips copied from the stream's own packets, never decoded or re-encoded.

* `ring`: `PacketRing`, a camera's newest packets (whole GOPs, bounded by time and bytes), tapped
  from the reader's demux loop, and the `Clip`s of events cut from it;
* `clip`: `write_clip` (PyAV remux to MP4, faststart, fsync'd) and `ClipWriter`, the one thread
  that writes finished clips and reports each outcome;
* `segments`: `SegmentRecorder`, continuous recording into contiguous fragmented-MP4 segments;
* `recovery`: `recover_parts`, the `.part` segments a crash left, repaired or removed.
"""

from vision.record.clip import ClipFile, ClipWriter, write_clip
from vision.record.ring import Clip, PacketRing

__all__ = ["Clip", "ClipFile", "ClipWriter", "PacketRing", "write_clip"]
