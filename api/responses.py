"""Fast JSON responses for the hot read paths (lists, statistics).

The list endpoints build plain dicts from database rows and answer with `orjson` (about 10x the
standard library's speed, and it writes `datetime`s as ISO 8601 itself), instead of validating
each row through its pydantic model a second time. The OpenAPI schema still comes from the
route's `response_model`; the tests check the answers against it (schemathesis).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response


class FastJSONResponse(Response):
    """A JSON response serialised by orjson (UTF-8, no ASCII escaping). UTC timestamps end in `Z`,
    exactly as pydantic writes them in the model-built answers."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_UTC_Z)
