"""A PostgreSQL URL whose driver is not installed fails at start, naming the extra to install
(and never the password), both from `open_database` and from the command line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from citywatch.cli import main
from citywatch.domain.db import DatabaseDriverMissing, open_database
from tests.support import demo_config_dict, write_config

URL = "postgresql://citywatch:S3cr3t@127.0.0.1:5432/citywatch"


@pytest.fixture()
def no_psycopg(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a machine installed without the `postgres` extra: `import psycopg` fails."""
    monkeypatch.setitem(sys.modules, "psycopg", None)


def test_open_database_names_the_extra(no_psycopg: None) -> None:
    with pytest.raises(DatabaseDriverMissing) as info:
        open_database(URL)
    message = str(info.value)
    assert "citywatch[postgres]" in message and "psycopg" in message
    assert "S3cr3t" not in message


def test_serve_fails_at_start_with_the_extra_to_install(
    no_psycopg: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = demo_config_dict(tmp_path)
    data["storage"]["database_url"] = URL
    config = write_config(tmp_path, data)
    assert main(["serve", "--config", str(config)]) == 3
    err = capsys.readouterr().err
    assert "pip install 'citywatch[postgres]'" in err and "S3cr3t" not in err
