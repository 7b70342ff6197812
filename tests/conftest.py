"""Shared fixtures: every store test runs on both backends.

``embedded`` is chDB in this process. ``server`` is clickhouse-connect speaking the real
ClickHouse HTTP protocol to a loopback server backed by chDB in a child process
(``tests/support/chdb_http.py``), because no modern ClickHouse server can be installed here.

chDB opens one data folder per process, so every embedded store of a test run lives in one
warehouse folder (``WB_DATA_DIR``) and test modules are kept apart by databases.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.chdb_http import ChdbHttpServerProcess
from workbench.store import EmbeddedStore, ServerStore, Store, apply_schema

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()
SERVER_USER = "workbench"
SERVER_PASSWORD = "test-only-password"  # noqa: S105 - the loopback test server's own password


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one embedded data folder of this test run."""
    return tmp_path_factory.mktemp("warehouse")


def fresh_database() -> str:
    """Return a new database name for one test's or module's data."""
    return f"test_{uuid.uuid4().hex[:12]}"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, warehouse: Path, tmp_path: Path):
    """Keep tests away from the developer's own store, server settings and reports.

    ``connect()`` inside a test opens the run's warehouse in a database of its own.
    """
    for name in list(os.environ):
        if name.startswith("WB_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("WB_DATA_DIR", str(warehouse))
    monkeypatch.setenv("WB_DATABASE", fresh_database())
    monkeypatch.setenv("WB_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("WB_MODELS_DIR", str(tmp_path / "models"))


@pytest.fixture(scope="session")
def chdb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbHttpServerProcess]:
    """A ClickHouse HTTP interface on 127.0.0.1 backed by chDB in a child process."""
    server = ChdbHttpServerProcess(
        str(tmp_path_factory.mktemp("chdb-server")), user=SERVER_USER, password=SERVER_PASSWORD
    )
    server.start()
    yield server
    server.stop()


def make_embedded_store(folder: Path) -> EmbeddedStore:
    """Return an embedded store on a fresh database of ``folder``, schema applied."""
    store = EmbeddedStore(folder, database=fresh_database())
    apply_schema(store)
    return store


def make_server_store(server: ChdbHttpServerProcess) -> ServerStore:
    """Return a server store on a fresh database of the test server, schema applied."""
    database = fresh_database()
    admin = ServerStore(server.url, password=SERVER_PASSWORD, user=SERVER_USER, retries=1)
    admin.command(f"CREATE DATABASE {database}")
    admin.close()
    store = ServerStore(
        f"{server.url}/{database}", password=SERVER_PASSWORD, user=SERVER_USER, retries=2
    )
    apply_schema(store)
    return store


@pytest.fixture(scope="module")
def embedded_store(warehouse: Path) -> Iterator[EmbeddedStore]:
    """A fresh embedded store (own database) for one test module."""
    store = make_embedded_store(warehouse)
    yield store
    store.close()


@pytest.fixture(scope="module")
def server_store(chdb_server: ChdbHttpServerProcess) -> Iterator[ServerStore]:
    """A fresh server-backed store (own database) for one test module."""
    store = make_server_store(chdb_server)
    yield store
    store.close()


@pytest.fixture(scope="module", params=["embedded", "server"])
def store(request: pytest.FixtureRequest) -> Store:
    """The same tests on both backends: a fresh store for one test module."""
    return request.getfixturevalue(f"{request.param}_store")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``: real public data sets (read-only)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA
