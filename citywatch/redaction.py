"""No password in any output: the process-wide set of secrets the configuration holds, masked (with
every URL's password) in log records, MQTT and webhook payloads, and any text given to `redact`.

The secrets are the camera URL passwords, the database URL password, the MQTT password and the
webhook URL passwords, each in all its forms (`vision.streams.source.secret_forms`), so a text
with no URL shape (a bare `user:pass` or a path FFmpeg prints alone) is masked too. They are
registered where the configuration reaches a store or a broker (`register_cameras`, `Publisher`)
and by `check-config`; `install_log_redaction` (called by the command line at start) masks every
log record, whichever handler writes it, including those uvicorn installs later.

Example:
    >>> register_config(config)  # doctest: +SKIP
    >>> install_log_redaction()  # doctest: +SKIP
    >>> redact("retry admin:S3cr3t@cam")  # doctest: +SKIP
    'retry admin:***@cam'
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from citywatch.config import CitywatchConfig
from vision.streams.source import redact_text, secret_forms, url_secrets

_lock = threading.Lock()
_secrets: frozenset[str] = frozenset()


def register_secret(secret: str | None) -> None:
    """Mask every form of `secret` from now on (forms shorter than
    `vision.streams.source.MIN_SECRET_LENGTH` only inside URLs)."""
    if secret:
        _add(secret_forms(secret))


def register_url(url: str | None) -> None:
    """Mask every form of the password of `url` (a camera, database or webhook URL) from now on."""
    if url:
        _add(url_secrets(url))


def register_config(config: CitywatchConfig) -> None:
    """Register every secret of a configuration: camera, database and webhook URL passwords, the
    MQTT password."""
    for camera in config.cameras:
        register_url(camera.url)
    register_url(config.storage.database_url)
    register_secret(config.mqtt.password)
    for hook in config.webhooks:
        register_url(hook.url)


def known_secrets() -> frozenset[str]:
    """Every form of every registered secret."""
    return _secrets


def _add(forms: frozenset[str]) -> None:
    global _secrets
    if forms - _secrets:
        with _lock:
            _secrets = _secrets | forms


def redact(text: str) -> str:
    """`text` with every URL password and every registered secret masked."""
    return redact_text(text, _secrets)


def redact_payload(value: Any) -> Any:
    """A copy of a JSON-ready payload with every string in it redacted (keys and numbers kept)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {key: redact_payload(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_payload(item) for item in value]
    return value


class RedactSecrets(logging.Filter):
    """Masks secrets in a log record: its message, its string (and stringified object) arguments,
    its exception traceback and stack. Keeps the record (always answers True); a record is
    redacted once."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_citywatch_redacted", False):
            return True
        record._citywatch_redacted = True
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, Mapping):
            record.args = {key: _redact_arg(arg) for key, arg in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(arg) for arg in record.args)
        if record.exc_info and not record.exc_text:  # formatted here once, so every handler shows it masked
            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def _redact_arg(arg: Any) -> Any:
    if arg is None or isinstance(arg, bool | int | float):
        return arg  # kept for %d and %.2f
    text = arg if isinstance(arg, str) else str(arg)
    masked = redact(text)
    return arg if masked == text and not isinstance(arg, str) else masked


_FILTER = RedactSecrets()
_installed: list[Callable[..., logging.LogRecord]] = []


def install_log_redaction() -> None:
    """Mask secrets in every log record of the process from now on (idempotent): the record
    factory applies `RedactSecrets` as each record is made, so handlers installed later (uvicorn's)
    write masked records too; the root logger's handlers get the filter as well."""
    with _lock:
        if not _installed:
            previous = logging.getLogRecordFactory()

            def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
                record = previous(*args, **kwargs)
                _FILTER.filter(record)
                return record

            logging.setLogRecordFactory(factory)
            _installed.append(factory)
    for handler in logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
