"""Fuzzing the whole API over real HTTP (uvicorn in a thread) with an operator's token: schemathesis
generates valid and invalid requests for every operation from the OpenAPI schema (NUL bytes and
any Unicode in strings), and each JSON body is sent again with one value replaced by what strict
JSON refuses (NaN, Infinity, 1e400, lone surrogates). Nothing may answer 5xx.

A bounded number of examples per operation keeps it under a minute; `e2e` keeps it out of
`make test-fast`.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from api.app import create_app
from citywatch.config import CitywatchConfig
from citywatch.domain.db import open_database
from tests.ledger_support import Ledger, make_ledger
from tests.support import ThreadServer, demo_config_dict

pytestmark = pytest.mark.e2e

#: What replaces one value of a JSON body, as raw JSON text: refused by strict JSON (422) ...
POISONS = ("NaN", "Infinity", "-Infinity", "1e400", '"\\ud800"', '"x\\udfff"')
#: ... and valid but odd text (a NUL, a right-to-left override, a BOM), which the route decides on.
ODD = '"\\u0000\\u202e\\ufeff"'
_MARK = "\x01poison\x01"
#: The schema's examples, then random valid and invalid requests (the coverage phase's hundreds of
#: boundary cases per operation would take minutes).
PHASES = ["examples", "fuzzing"]
#: Requests per operation (and as many again with poisoned JSON bodies, for writes).
EXAMPLES = 30
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _schema() -> schemathesis.BaseSchema:
    """The app's OpenAPI schema (it depends on no data: built over a throwaway database)."""
    folder = Path(tempfile.mkdtemp(prefix="cw-fuzz-schema-"))
    config = CitywatchConfig.model_validate(demo_config_dict(folder))
    database = open_database(config.storage.database_url)
    spec = create_app(config, database).openapi()
    database.dispose()
    schema = schemathesis.openapi.from_dict(spec)
    schema.config.generation.update(
        modes=list(GenerationMode), max_examples=EXAMPLES, allow_x00=True, codec="utf-8", no_shrink=True
    )
    schema.config.phases.update(phases=PHASES)
    return schema.exclude(path_regex=r"^/api/stream$")  # an endless event stream


schema = _schema()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Ledger, httpx.Client]]:
    folder = tmp_path_factory.mktemp("fuzz")
    ledger = make_ledger(folder, f"sqlite:///{folder / 'ledger.db'}")
    for _ in range(3):
        ledger.event()
    body = {"source": "hotline", "ticket": "seed-1", "type": "litter", "description": "d", "location": "l"}
    ledger.client.post("/api/cases", headers=ledger.auth("operator"), json=body)
    with ThreadServer(ledger.client.app) as server, httpx.Client(base_url=server.base, timeout=10) as client:
        yield ledger, client
    ledger.sink.close()
    ledger.database.dispose()


def _poisoned(body: Any) -> Iterator[tuple[str, str]]:
    """(poison, `body` as JSON text with its first scalar value replaced by the poison)."""
    if not isinstance(body, dict | list):
        return
    pending: list[tuple[Any, Any]] = [(body, key) for key in (body if isinstance(body, dict) else range(len(body)))]
    while pending:
        parent, key = pending.pop(0)
        value = parent[key]
        if isinstance(value, dict | list):
            pending += [(value, k) for k in (value if isinstance(value, dict) else range(len(value)))]
            continue
        parent[key] = _MARK
        text = json.dumps(body)
        parent[key] = value
        for poison in (*POISONS, ODD):
            yield poison, text.replace(json.dumps(_MARK), poison, 1)
        return
    yield "NaN", json.dumps(body)[:-1] + (', "x": NaN}' if isinstance(body, dict) else ", NaN]")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_server_error(case: schemathesis.Case, served: tuple[Ledger, httpx.Client]) -> None:
    ledger, client = served
    case.headers = {**(case.headers or {}), **ledger.auth("operator")}
    response = case.call(base_url=str(client.base_url), timeout=10)
    case.validate_response(response, checks=[not_a_server_error])
    if case.method in WRITES and case.media_type == "application/json" and isinstance(case.body, dict | list):
        headers = {**case.headers, "Content-Type": "application/json"}
        for poison, text in _poisoned(case.body):
            poisoned = client.request(
                case.method, case.formatted_path, content=text.encode(), headers=headers, params=case.query
            )
            assert poisoned.status_code < 500, (case.method, case.formatted_path, text, poisoned.text)
            assert poison == ODD or poisoned.status_code == 422, (case.method, case.formatted_path, text)
