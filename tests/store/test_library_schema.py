"""The named-query library and the schema: parsing, errors, idempotence, cluster DDL."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from workbench.errors import InputError, InvalidIdentifier, MissingParameter, UnknownQuery
from workbench.store import (
    EmbeddedStore,
    QueryLibrary,
    apply_schema,
    ddl_statements,
    default_library,
)
from workbench.store.identifiers import check_identifier
from workbench.store.params import normalize_value, placeholders, settings_clause
from workbench.store.schema import load_tables

EXPECTED_TABLES = {
    "http_requests",
    "auth_events",
    "labels",
    "scores",
    "alerts",
    "quarantine",
    "ingest_files",
    "payloads",
}


def test_library_has_the_first_queries():
    names = set(default_library().names())
    assert {
        "requests_for_entity",
        "top_entities",
        "status_breakdown",
        "path_breakdown",
        "request_buckets",
    } <= names
    for q in default_library().queries():
        assert q.description, q.name
        assert set(q.defaults) <= set(q.params)


def test_every_shipped_query_runs_with_its_defaults(store):
    for q in default_library().queries():
        values = {p: "203.0.113.9" for p in q.params if p not in q.defaults}
        store.run(q.name, **values)  # raises on any error


def test_times_are_read_as_people_write_them(store):
    import datetime as dt

    store.insert_df("http_requests", pd.DataFrame({
        "RayID": ["old", "new"], "ClientIP": ["203.0.113.9"] * 2,
        "EdgeStartTimestamp": pd.to_datetime(["2026-11-01T00:00:00Z", dt.datetime.now(dt.UTC)],
                                             utc=True, format="ISO8601"),
    }))  # fmt: skip
    query = default_library().get("requests_for_entity")
    _, bound = query.bind({"entity": "x", "start": "2026-11-01T00:00:00Z", "end": "now+1h"})
    assert bound["start"] == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert bound["end"] > dt.datetime.now(dt.UTC)
    ids = lambda **w: store.run("requests_for_entity", entity="203.0.113.9", **w)["RayID"].tolist()  # noqa: E731
    assert ids(start="2026-11-01T00:00:00Z", end="2026-11-01T00:00:00.001+00:00") == ["old"]
    assert ids(start="-1h") == ["new"]
    with pytest.raises(InputError, match="'start'.*is not a time"):
        query.bind({"entity": "x", "start": "yesterday"})


def test_header_parsing(tmp_path: Path):
    (tmp_path / "fam").mkdir()
    (tmp_path / "fam" / "q.sql").write_text(
        "-- Count rows above a bound.\n-- param n: the bound\n-- default n: 3\n"
        "SELECT count() FROM numbers(10) WHERE number > {n:UInt8} AND {s:String} != ''\n"
    )
    lib = QueryLibrary(tmp_path)
    q = lib.get("q")
    assert q.family == "fam"
    assert q.description == "Count rows above a bound."
    assert q.params == {"n": "UInt8", "s": "String"}
    assert q.defaults == {"n": "3"}
    assert q.docs == {"n": "the bound"}
    sql, bound = q.bind({"s": "x"})
    assert bound == {"n": "3", "s": "x"}
    with pytest.raises(MissingParameter, match="'s'"):
        q.bind({})
    with pytest.raises(UnknownQuery, match="did you mean q"):
        lib.get("qq")


def test_header_must_describe_and_match(tmp_path: Path):
    (tmp_path / "fam").mkdir()
    (tmp_path / "fam" / "bad.sql").write_text("SELECT 1\n")
    with pytest.raises(InputError, match="describe"):
        QueryLibrary(tmp_path)
    (tmp_path / "fam" / "bad.sql").write_text("-- Desc.\n-- default ghost: 1\nSELECT 1\n")
    with pytest.raises(InputError, match="ghost"):
        QueryLibrary(tmp_path)


def test_identifier_check():
    assert check_identifier("http_requests") == "http_requests"
    assert check_identifier("db.table") == "db.table"
    for bad in ["", "1a", "a-b", "a b", "a;b", "a.b.c", "`a`", "a\x00", "é", "a" * 200]:
        with pytest.raises(InvalidIdentifier):
            check_identifier(bad)


def test_param_helpers():
    import datetime as dt

    assert (
        normalize_value(dt.datetime(2026, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2))))
        == "2026-01-01 10:00:00.000"
    )
    assert placeholders("SELECT {a:UInt8}, {b:Array(String)}, {a:UInt8}") == {
        "a": "UInt8",
        "b": "Array(String)",
    }
    assert (
        settings_clause({"max_execution_time": 5, "mode": "x'y"})
        == " SETTINGS max_execution_time = 5, mode = 'x\\'y'"
    )
    with pytest.raises(InvalidIdentifier):
        settings_clause({"a; DROP": 1})


def test_schema_defines_every_table_and_applies_twice(warehouse: Path):
    assert EXPECTED_TABLES <= {t.name for t in load_tables()}
    store = EmbeddedStore(warehouse, database="schema_twice")
    assert set(apply_schema(store)) == {t.name for t in load_tables()}
    apply_schema(store)  # idempotent
    names = set(
        store.query_df("SELECT name FROM system.tables WHERE database = currentDatabase()")["name"]
    )
    assert EXPECTED_TABLES <= names


def test_cluster_ddl_is_replicated_and_distributed(store):
    statements = ddl_statements("edge_cluster")
    assert len(statements) == 2 * len(load_tables())
    for local, dist in zip(statements[::2], statements[1::2], strict=True):
        assert "ON CLUSTER edge_cluster" in local and "ON CLUSTER edge_cluster" in dist
        assert "ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/" in local
        assert "_local" in local and "ENGINE = Distributed(edge_cluster, currentDatabase()" in dist
        # the engine parses both statements: formatQuery raises on a syntax error
        for sql in (local, dist):
            formatted = store.query_df("SELECT formatQuery({q:String}) AS f", {"q": sql})["f"][0]
            assert "CREATE TABLE" in formatted
    http = next(
        s for s in statements if s.startswith("CREATE TABLE IF NOT EXISTS http_requests ON")
    )
    assert http.endswith("cityHash64(ClientIP))")
    with pytest.raises(InvalidIdentifier):
        ddl_statements("prod; DROP")


def test_apply_schema_adds_columns_an_older_table_lacks(warehouse: Path):
    store = EmbeddedStore(warehouse, database="schema_upgrade")
    store.command(
        "CREATE TABLE quarantine (QuarantinedAt DateTime64(3, 'UTC'), Source String) "
        "ENGINE = MergeTree ORDER BY Source"
    )
    store.command("INSERT INTO quarantine (Source) VALUES ('old.log')")
    apply_schema(store)
    columns = dict(store.columns("quarantine"))
    assert {"Format", "LineNumber", "Reason", "Raw"} <= set(columns)
    assert columns["LineNumber"] == "UInt64"
    assert store.query_df("SELECT Source, LineNumber FROM quarantine")["Source"].tolist() == [
        "old.log"
    ]
    store.close()


def test_declared_columns_are_parsed_from_the_ddl():
    from workbench.store.schema import table_columns

    http = next(t for t in load_tables() if t.name == "http_requests")
    columns = dict(table_columns(http))
    assert columns["EdgeStartTimestamp"] == "DateTime64(3, 'UTC')"
    assert columns["RequestHeaders"] == "Map(String, String)"
    assert "attack_class" in columns


def test_mutations_go_to_the_local_tables_on_a_cluster(store, chdb_server):
    from tests.conftest import SERVER_PASSWORD, SERVER_USER
    from workbench.errors import StoreError
    from workbench.store import ServerStore
    from workbench.store.schema import mutation_target

    assert mutation_target("scores") == "scores"
    assert mutation_target("scores", "edge") == "scores_local ON CLUSTER edge"
    with pytest.raises(InvalidIdentifier):
        mutation_target("scores; DROP", "edge")
    sql = f"ALTER TABLE {mutation_target('scores', 'edge')} DELETE WHERE Model = {{m:String}}"
    formatted = store.query_df("SELECT formatQuery({q:String}) AS f", {"q": sql})["f"][0]
    assert "ON CLUSTER edge" in formatted and "scores_local" in formatted
    # without a cluster the mutation runs here; with one it reaches the server as ON CLUSTER
    # (the test server has no cluster and refuses distributed DDL: proof it got ON CLUSTER)
    store.insert_df("scores", pd.DataFrame({"Model": ["m", "keep"], "Score": [1, 2]}))
    store.mutate("scores", "DELETE WHERE Model = {m:String}", {"m": "m"},
                 settings={"mutations_sync": 2})  # fmt: skip
    assert store.query_df("SELECT Model FROM scores")["Model"].tolist() == ["keep"]
    on_cluster = ServerStore(chdb_server.url, password=SERVER_PASSWORD, user=SERVER_USER,
                             retries=1, cluster="edge_cluster")  # fmt: skip
    try:
        with pytest.raises(StoreError, match="Replicated DDL queries|edge_cluster"):
            on_cluster.mutate("scores", "DELETE WHERE Model = {m:String}", {"m": "keep"})
    finally:
        on_cluster.close()
