"""The Store contract, run on both backends (embedded chDB and clickhouse-connect over HTTP)."""

from __future__ import annotations

import datetime as dt
import threading

import pandas as pd
import pyarrow as pa
import pytest

from workbench.errors import InputError, MissingParameter, QueryError, QueryTimeout, UnknownQuery

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def request_rows(n: int, ip_of=lambda i: f"10.0.{i % 7}.{i % 5}") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "RayID": [f"{i:016x}" for i in range(n)],
            "EdgeStartTimestamp": [
                T0 + dt.timedelta(seconds=37 * i, milliseconds=i % 1000) for i in range(n)
            ],
            "ClientIP": [ip_of(i) for i in range(n)],
            "ClientASN": [64500 + i % 3 for i in range(n)],
            "ClientCountry": ["US" if i % 2 else "DE" for i in range(n)],
            "ClientRequestMethod": ["POST" if i % 10 == 0 else "GET" for i in range(n)],
            "ClientRequestPath": [f"/p/{i % 11}" for i in range(n)],
            "ClientRequestUserAgent": ["Mozilla/5.0" if i % 3 else "curl/8.0" for i in range(n)],
            "JA4": [f"t13d{i % 4}" for i in range(n)],
            "EdgeResponseStatus": [200 if i % 6 else 404 for i in range(n)],
            "RequestHeaders": [{"accept": "*/*", "x-n": str(i)} for i in range(n)],
            "label": ["human" if i % 3 else "bad_bot" for i in range(n)],
        }
    )


@pytest.fixture(scope="module")
def loaded(store):
    store.command("TRUNCATE TABLE http_requests")
    frame = request_rows(500)
    assert store.insert_df("http_requests", frame) == 500
    return store, frame


def test_backend_describes_itself_without_secrets(store):
    text = store.describe()
    assert store.backend in ("embedded", "server")
    assert "password" not in text.lower()


def test_query_df_and_arrow_agree(loaded):
    store, frame = loaded
    df = store.query_df(
        "SELECT ClientIP, count() AS n FROM http_requests GROUP BY ClientIP ORDER BY ClientIP"
    )
    expected = frame.groupby("ClientIP").size().sort_index()
    assert list(df["ClientIP"]) == list(expected.index)
    assert list(df["n"]) == list(expected.values)
    table = store.query_arrow(
        "SELECT ClientIP, count() AS n FROM http_requests GROUP BY ClientIP ORDER BY ClientIP"
    )
    assert isinstance(table, pa.Table)
    assert table.to_pandas().equals(df)


def test_round_trip_keeps_every_value(loaded):
    store, frame = loaded
    back = store.query_df(
        "SELECT RayID, EdgeStartTimestamp, ClientIP, ClientASN, ClientCountry, RequestHeaders, label "
        "FROM http_requests ORDER BY RayID"
    )
    assert list(back["RayID"]) == list(frame["RayID"])
    got_ts = pd.to_datetime(back["EdgeStartTimestamp"], utc=True)
    assert list(got_ts) == list(pd.to_datetime(frame["EdgeStartTimestamp"], utc=True))
    assert list(back["ClientASN"]) == list(frame["ClientASN"])
    assert [dict(h) for h in back["RequestHeaders"]] == list(frame["RequestHeaders"])
    assert list(back["label"].astype(str)) == list(frame["label"])


def test_bound_parameters_of_several_types(loaded):
    store, frame = loaded
    start, end = T0 + dt.timedelta(minutes=10), T0 + dt.timedelta(minutes=60)
    df = store.query_df(
        "SELECT count() AS n FROM http_requests WHERE EdgeStartTimestamp >= {start:DateTime64(3)} "
        "AND EdgeStartTimestamp < {end:DateTime64(3)} AND ClientASN = {asn:UInt32} "
        "AND ClientCountry IN {countries:Array(String)}",
        {"start": start, "end": end, "asn": 64501, "countries": ["US", "FR"]},
    )
    ts = pd.to_datetime(frame["EdgeStartTimestamp"], utc=True)
    mask = (
        (ts >= start)
        & (ts < end)
        & (frame["ClientASN"] == 64501)
        & frame["ClientCountry"].isin(["US", "FR"])
    )
    assert int(df["n"][0]) == int(mask.sum())


def test_datetime_parameters_keep_milliseconds(store):
    df = store.query_df(
        "SELECT toString({t:DateTime64(3)}) AS t", {"t": dt.datetime(2026, 1, 2, 3, 4, 5, 678000)}
    )
    assert df["t"][0] == "2026-01-02 03:04:05.678"


def test_stream_yields_bounded_batches(store):
    total, largest, batches = 0, 0, 0
    with store.query_arrow_stream(
        "SELECT number, toString(number) AS s FROM numbers(300000)", batch_rows=50_000
    ) as stream:
        for batch in stream:
            assert isinstance(batch, pa.RecordBatch)
            total += batch.num_rows
            largest = max(largest, batch.num_rows)
            batches += 1
    assert total == 300_000
    assert batches >= 3
    assert largest <= 70_000


def test_stream_can_stop_early(store):
    with store.query_arrow_stream(
        "SELECT number FROM numbers(5000000)", batch_rows=10_000
    ) as stream:
        first = next(iter(stream))
    assert first.num_rows > 0
    # the store still works after an abandoned stream
    assert int(store.query_df("SELECT 1 AS x")["x"][0]) == 1


def test_insert_arrow_with_defaults_for_missing_columns(store):
    store.command("TRUNCATE TABLE quarantine")
    table = pa.table(
        {
            "Source": ["f.log", "f.log"],
            "LineNumber": pa.array([1, 2], pa.uint64()),
            "Reason": ["bad", "bad"],
            "Raw": ["x", "y"],
        }
    )
    assert store.insert_arrow("quarantine", table) == 2
    df = store.query_df(
        "SELECT LineNumber, Format, QuarantinedAt > toDateTime64('2020-01-01', 3) AS fresh FROM quarantine ORDER BY LineNumber"
    )
    assert list(df["LineNumber"]) == [1, 2]
    assert list(df["Format"]) == ["", ""]
    assert all(df["fresh"])


def test_insert_rejects_unknown_columns(store):
    with pytest.raises(InputError, match="no column"):
        store.insert_arrow("quarantine", pa.table({"Nope": [1]}))


def test_command_runs_ddl(store):
    store.command("CREATE TABLE IF NOT EXISTS scratch (a UInt8) ENGINE = Memory")
    store.command("INSERT INTO scratch SELECT number FROM numbers({n:UInt8})", {"n": 4})
    assert int(store.query_df("SELECT sum(a) AS s FROM scratch")["s"][0]) == 6
    store.command("DROP TABLE scratch")


def test_syntax_error_is_a_query_error_with_code(store):
    with pytest.raises(QueryError) as info:
        store.query_df("SELEC 1")
    assert info.value.code == 62
    assert "Syntax error" in str(info.value)


def test_unknown_table_is_a_query_error(store):
    with pytest.raises(QueryError) as info:
        store.query_df("SELECT * FROM no_such_table")
    assert info.value.code == 60


def test_time_limit_stops_a_slow_query(store):
    with pytest.raises(QueryTimeout):
        store.query_df(
            "SELECT count() FROM numbers(100000000000) WHERE sipHash64(number) = 1",
            settings={"max_execution_time": 1, "timeout_overflow_mode": "throw"},
        )


def test_missing_parameter_in_sql_is_an_error(store):
    with pytest.raises(QueryError):
        store.query_df("SELECT {x:String} AS x")


def test_named_query_errors(store):
    with pytest.raises(UnknownQuery, match="top_entities"):
        store.run("top_entity")
    with pytest.raises(MissingParameter, match="entity"):
        store.run("requests_for_entity")
    with pytest.raises(InputError, match="no parameter 'nope'"):
        store.run("top_entities", nope=1)


def test_named_queries_count_exactly(loaded):
    store, frame = loaded
    top = store.run("top_entities", entity_column="ClientIP", limit=3)
    expected = frame.groupby("ClientIP").size().sort_values(ascending=False)
    assert list(top["requests"]) == list(expected.values[:3])
    ip = top["entity"][0]
    rows = store.run("requests_for_entity", entity=ip, limit=10_000)
    assert len(rows) == int((frame["ClientIP"] == ip).sum())
    statuses = store.run("status_breakdown")
    assert (
        statuses.set_index("status")["requests"].to_dict()
        == frame["EdgeResponseStatus"].value_counts().to_dict()
    )
    buckets = store.run("request_buckets", bucket_seconds=3600)
    assert int(buckets["requests"].sum()) == len(frame)
    asn = store.run("requests_for_entity", entity_column="ClientASN", entity="64500", limit=10_000)
    assert len(asn) == int((frame["ClientASN"] == 64500).sum())


def test_concurrent_queries_from_threads(loaded):
    store, frame = loaded
    errors, results = [], []

    def work(i: int) -> None:
        try:
            for _ in range(5):
                df = store.query_df(
                    "SELECT count() AS n FROM http_requests WHERE ClientASN = {a:UInt32}",
                    {"a": 64500 + i % 3},
                )
                results.append((i % 3, int(df["n"][0])))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    counts = frame["ClientASN"].value_counts()
    assert all(n == counts[64500 + k] for k, n in results)
    assert len(results) == 30


def test_missing_values_are_refused_not_stored_as_zero(store):
    frame = pd.DataFrame({"Source": ["a", "b"], "LineNumber": [1.0, float("nan")]})
    with pytest.raises(InputError, match="LineNumber .*1 of 2 are missing"):
        store.insert_df("quarantine", frame)
