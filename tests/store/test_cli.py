"""`wb db` and `wb query` through the real command entry point."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from workbench.cli import main
from workbench.store import connect


@pytest.fixture()
def loaded_store():
    store = connect()
    t0 = dt.datetime(2026, 11, 1)
    store.insert_df(
        "http_requests",
        pd.DataFrame(
            {
                "RayID": [f"r{i}" for i in range(30)],
                "EdgeStartTimestamp": [t0 + dt.timedelta(minutes=i) for i in range(30)],
                "ClientIP": ["198.51.100.1"] * 20 + ["198.51.100.2"] * 10,
                "ClientRequestPath": ["/a"] * 30,
                "EdgeResponseStatus": [200] * 25 + [403] * 5,
            }
        ),
    )
    yield store
    store.close()


def test_query_list_and_show(capsys):
    assert main(["query", "list"]) == 0
    out = capsys.readouterr().out
    assert "entities/top_entities" in out and "requests/requests_for_entity" in out
    assert main(["query", "show", "requests_for_entity"]) == 0
    out = capsys.readouterr().out
    assert "entity: String (required)" in out and "limit: UInt32 (default: '1000')" in out


def test_query_run_prints_and_saves(loaded_store, tmp_path, capsys):
    assert main(["query", "run", "top_entities", "-p", "limit=1"]) == 0
    out = capsys.readouterr().out
    assert "198.51.100.1" in out and "198.51.100.2" not in out
    target = tmp_path / "out" / "rows.parquet"
    assert (
        main(
            [
                "query",
                "run",
                "requests_for_entity",
                "-p",
                "entity=198.51.100.2",
                "--out",
                str(target),
            ]
        )
        == 0
    )
    assert len(pd.read_parquet(target)) == 10
    csv = tmp_path / "s.csv"
    assert main(["query", "run", "status_breakdown", "--out", str(csv)]) == 0
    assert pd.read_csv(csv).set_index("status")["requests"].to_dict() == {200: 25, 403: 5}


@pytest.mark.parametrize(
    ("argv", "needle", "code"),
    [
        (["query", "run", "nope"], "no named query 'nope'", 3),
        (["query", "run", "requests_for_entity"], "needs parameter 'entity'", 3),
        (["query", "run", "top_entities", "-p", "limit"], "key=value", 4),
        (["query", "run", "top_entities", "-p", "limit=x"], "cannot be parsed as UInt32", 3),
        (["query", "run", "top_entities", "--out", "x.json"], ".parquet or .csv", 4),
    ],
)
def test_errors_are_one_line_and_non_zero(loaded_store, capsys, argv, needle, code):
    assert main(argv) == code
    err = capsys.readouterr().err.strip()
    assert err.startswith("wb: error:") and needle in err
    assert "\n" not in err and "Traceback" not in err


def test_db_init_status_and_cluster_ddl(loaded_store, capsys):
    assert main(["db", "init"]) == 0
    assert "http_requests" in capsys.readouterr().out
    assert main(["db", "status"]) == 0
    assert "http_requests" in capsys.readouterr().out
    assert main(["db", "ddl", "--cluster", "edge"]) == 0
    assert "ENGINE = Distributed(edge" in capsys.readouterr().out


def test_unreachable_server_from_the_cli(monkeypatch, capsys):
    monkeypatch.setenv("WB_CLICKHOUSE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("WB_CONNECT_RETRIES", "1")
    assert main(["db", "status"]) == 3
    err = capsys.readouterr().err
    assert "cannot reach ClickHouse server 127.0.0.1:9" in err and "WB_CLICKHOUSE_URL" in err
