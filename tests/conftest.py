"""Shared test fixtures: the read-only footage and model store (failing clearly when absent), the
`footage` marker they imply, and the fixture plugins below. Helpers (paths, config builders,
servers) are in tests/support.py.

`CITYWATCH_SHARED_DIR` points at the shared folder (default: ../shared beside the repo).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import MODEL_DIR, VTEST

#: Fixture modules whose fixtures every test may request by name:
#: `pg_template`, `database_url`, `ledger` (tests.ledger_support); `rtsp_clips`, `rtsp_server`, `campus_rtsp`
#: (tests.rtsp.fixtures).
pytest_plugins = ["tests.ledger_support", "tests.rtsp.fixtures"]


@pytest.fixture(scope="session")
def vtest_path() -> Path:
    if not VTEST.is_file():
        pytest.fail(f"shared footage missing: {VTEST} (set CITYWATCH_SHARED_DIR)")
    return VTEST


@pytest.fixture(scope="session")
def model_dir() -> Path:
    if not (MODEL_DIR / "yolox_nano.onnx").is_file():
        pytest.fail(f"shared model store missing: {MODEL_DIR} (set CITYWATCH_SHARED_DIR)")
    return MODEL_DIR


#: Fixtures that give a test the shared footage or model store: asking for one marks it `footage`.
FOOTAGE_FIXTURES = frozenset({"vtest_path", "model_dir", "rtsp_clips", "rtsp_server", "campus_rtsp"})


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that asks for the footage (or a server playing it) as `footage`, so
    `make test-fast` (`-m "not footage ..."`) leaves it out; a footage test that does not ask for
    it fails there, with the shared folder hidden, and gets marked by hand."""
    for item in items:
        if FOOTAGE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.footage)
