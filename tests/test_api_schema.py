"""Property-based contract test: schemathesis drives every ledger operation from the OpenAPI
schema (max 20 examples each, no deadline); no 5xx, and every response matches the schema."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.ledger_support import make_ledger

_tmp = Path(tempfile.mkdtemp(prefix="cw-schema-"))
LEDGER = make_ledger(_tmp, f"sqlite:///{_tmp / 'ledger.db'}")
for _ in range(3):
    LEDGER.event()
LEDGER.client.post(
    "/api/cases",
    headers=LEDGER.auth("operator"),
    json={"source": "hotline", "ticket": "seed-1", "type": "litter", "description": "d", "location": "l"},
)
HEADERS = LEDGER.auth("admin")
STARTED = time.monotonic()

# the schema is a reader's (anonymous reads are off in this ledger)
schema = schemathesis.openapi.from_asgi("/openapi.json", LEDGER.client.app, headers=LEDGER.auth("viewer")).include(
    path_regex=r"^/(healthz$|api/(cases|events|stats|users)|api/cameras$|api/cameras/\{camera_id\}$)"
)


@pytest.fixture(scope="module", autouse=True)
def _close() -> object:
    yield
    LEDGER.sink.close()
    LEDGER.database.dispose()


def test_the_schema_has_examples_and_descriptions() -> None:
    spec = LEDGER.client.get("/openapi.json", headers=LEDGER.auth("viewer")).json()
    components = spec["components"]["schemas"]
    for name in ("HotlineCaseIn", "TransitionIn", "ReviewIn"):
        assert components[name].get("examples"), name
    transitions = spec["paths"]["/api/cases/{case_id}/transitions"]["post"]
    assert {"401", "403", "404", "409", "422"} <= set(transitions["responses"])
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["type"] == "http"


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_contract(case: schemathesis.Case) -> None:
    case.headers = {**(case.headers or {}), **HEADERS}
    case.call_and_validate(
        checks=[not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance],
    )
