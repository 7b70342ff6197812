"""Server backend configuration and failures: URL, password, unreachable host, connect()."""

from __future__ import annotations

import socket
import time

import pytest

from tests.conftest import SERVER_PASSWORD, SERVER_USER
from workbench.errors import AuthenticationFailed, ConfigError, ConnectionFailed
from workbench.store import EmbeddedStore, ServerStore, connect
from workbench.store.server import parse_url


def test_parse_url():
    assert parse_url("http://analyst@ch.example:8123/security") == {
        "host": "ch.example",
        "port": 8123,
        "username": "analyst",
        "database": "security",
        "secure": False,
    }
    assert parse_url("https://ch.example")["port"] == 8443
    with pytest.raises(ConfigError, match="WB_CLICKHOUSE_PASSWORD"):
        parse_url("http://u:hunter2@ch.example:8123")
    with pytest.raises(ConfigError, match="http"):
        parse_url("tcp://ch.example:9000")


def test_wrong_password_is_refused_with_a_clear_error(chdb_server):
    with pytest.raises(AuthenticationFailed, match="WB_CLICKHOUSE_PASSWORD") as info:
        ServerStore(chdb_server.url, password="wrong", user=SERVER_USER, retries=1)
    assert "wrong" not in str(info.value)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_names_the_host_after_retries():
    port = free_port()
    started = time.monotonic()
    with pytest.raises(ConnectionFailed, match=f"127.0.0.1:{port}") as info:
        ServerStore(f"http://127.0.0.1:{port}", retries=3)
    assert "after 3 attempts" in str(info.value)
    assert "WB_CLICKHOUSE_URL" in str(info.value)
    assert time.monotonic() - started >= 1.5  # backoff 0.5 s then 1 s


def test_connect_picks_the_backend_from_the_environment(chdb_server, monkeypatch, tmp_path):
    assert isinstance(connect(), EmbeddedStore)
    monkeypatch.setenv(
        "WB_CLICKHOUSE_URL", f"http://{SERVER_USER}@{chdb_server.host}:{chdb_server.port}"
    )
    monkeypatch.setenv("WB_CLICKHOUSE_PASSWORD", SERVER_PASSWORD)
    store = connect()
    assert isinstance(store, ServerStore)
    assert int(store.query_df("SELECT 41 + 1 AS x")["x"][0]) == 42
    store.close()
    monkeypatch.setenv("WB_QUERY_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match="WB_QUERY_TIMEOUT"):
        connect()
