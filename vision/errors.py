"""What the stages raise when their input cannot be used: a source (`SourceError`) or a model
(`DetectorError`). Kept apart from the stages so the command line can map them to exit codes
without importing the video stack."""

from __future__ import annotations


class SourceError(Exception):
    """A source that cannot be opened or read; the message says why in plain words.

    `permanent` is True for faults a retry will not fix by itself (unknown host, wrong path, not
    video, corrupt file): the camera shows `error` rather than `offline`.
    """

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class DetectorError(Exception):
    """A detector that cannot be loaded or run; the message names the model path."""
