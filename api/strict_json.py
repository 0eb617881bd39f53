"""Strict JSON for request bodies: what Python's `json` accepts but no JSON peer should send.

`json.loads` takes `NaN`, `Infinity` and `-Infinity`, turns `1e400` into infinity and keeps a
lone UTF-16 surrogate (`"\\ud800"`) as a str that cannot be encoded again; each of those reached a
500 (a validation error that cannot be rendered, a row that cannot be written). `body_problem`
names the first such value in a body, so the request guard (`api.middleware`) answers 422 first.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

#: A UTF-16 surrogate code point, which a str of valid text never holds.
_SURROGATE = re.compile("[\ud800-\udfff]")


class StrictJSONError(ValueError):
    """A body that is JSON to Python but not to anyone else."""


def _constant(name: str) -> Any:
    raise StrictJSONError(f"{name} is not a finite number")


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise StrictJSONError(f"{text} is not a finite number")
    return value


def _text(value: str, where: str) -> None:
    if _SURROGATE.search(value):
        raise StrictJSONError(f"{where} holds a lone UTF-16 surrogate (not a character)")


def strict_loads(body: bytes | str) -> Any:
    """`json.loads` that refuses non-finite numbers and lone surrogates (`StrictJSONError`);
    other malformed JSON raises `json.JSONDecodeError` (or `ValueError`) as `json.loads` does.

    Example:
        >>> strict_loads('{"a": [1, 2.5]}')
        {'a': [1, 2.5]}
        >>> strict_loads('{"a": NaN}')
        Traceback (most recent call last):
        ...
        api.strict_json.StrictJSONError: NaN is not a finite number
    """
    document = json.loads(body, parse_constant=_constant, parse_float=_number)
    pending = [document]
    while pending:  # iterative: a deeply nested body must not overflow the stack
        value = pending.pop()
        if isinstance(value, str):
            _text(value, "a string")
        elif isinstance(value, dict):
            for key, item in value.items():
                _text(key, "a key")
                pending.append(item)
        elif isinstance(value, list):
            pending.extend(value)
    return document


def body_problem(body: bytes) -> str | None:
    """Why `body` (a request's JSON) must be refused with 422, or None to let the route decide
    (valid strict JSON, or malformed JSON, which FastAPI reports itself)."""
    try:
        strict_loads(body)
    except StrictJSONError as exc:
        return str(exc)
    except (ValueError, RecursionError):  # malformed, or too deep: the route's own parse answers
        return None
    return None
