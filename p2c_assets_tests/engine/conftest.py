"""Every ledger test runs twice: on a SQLite file and on a real PostgreSQL server started here."""

from __future__ import annotations

import os

import pytest

from p2c_assets.engine.ledger import Ledger
from p2c_assets_tests.postgres import PostgresServer, find_bindir


@pytest.fixture(scope="session")
def postgres_server():
    bindir = find_bindir()
    if bindir is None:
        message = "PostgreSQL server binaries (initdb, pg_ctl) not found: install the postgresql package"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = PostgresServer.start(bindir)
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request, tmp_path) -> str:
    """An empty database of each kind; PostgreSQL is started only when a test asks for it."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return request.getfixturevalue("postgres_server").create_database()


@pytest.fixture
def ledger(state_url):
    ledger = Ledger(state_url, max_attempts=3)
    ledger.upgrade()
    yield ledger
    ledger.close()
