"""The chDB-backed ClickHouse HTTP server, driven by the real clickhouse-connect client.

The server runs in a child process (``ChdbHttpServerProcess``): chDB allows one engine per
process, and a separate process lets the memory tests tell server memory from client memory.
"""

from __future__ import annotations

import base64
import datetime as dt
import gc
import subprocess
import sys
import textwrap
import threading
import time
import zlib
from pathlib import Path
from urllib.parse import urlencode

import clickhouse_connect
import lz4.frame
import numpy as np
import pandas as pd
import psutil
import pyarrow as pa
import pytest
import urllib3
from backports import zstd
from clickhouse_connect.driver.exceptions import DatabaseError, StreamFailureError

from tests.support.chdb_http import ChdbHttpServerProcess
from tests.support.chdb_http_protocol import _CODES

USER, PASSWORD = "analyst", "pa:ss w0rd'\"\\"
ROWS = 2_000_000
WIDE = f"SELECT number AS n, toString(number) AS s, randomPrintableASCII(60) FROM numbers({ROWS})"
MiB = 1 << 20


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with ChdbHttpServerProcess(str(tmp_path_factory.mktemp("chdb")), USER, PASSWORD) as srv:
        yield srv


def connect(server, **kwargs):
    kwargs.setdefault("username", USER)
    kwargs.setdefault("password", PASSWORD)
    return clickhouse_connect.get_client(host=server.host, port=server.port, **kwargs)


@pytest.fixture(scope="module")
def client(server):
    c = connect(server)
    yield c
    c.close()


def raw(server, sql="", headers=None, body=None, **params):
    """One HTTP request without clickhouse-connect, to look at the wire itself."""
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    fields = {"query": sql, **params} if sql else params
    return urllib3.request(
        "POST" if body is not None else "GET",
        f"{server.url}/?{urlencode(fields)}",
        headers={"Authorization": f"Basic {auth}", **(headers or {})},
        body=body,
        decode_content=False,
        retries=False,
    )


class PeakRss:
    """Sample the resident memory of some processes while a block runs."""

    def __init__(self, *pids):
        self.procs = [psutil.Process(pid) for pid in pids]
        self.base = [p.memory_info().rss for p in self.procs]
        self.peak = list(self.base)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while not self._stop.wait(0.01):
            for i, p in enumerate(self.procs):
                self.peak[i] = max(self.peak[i], p.memory_info().rss)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def growth_mib(self):
        return [(peak - base) / MiB for peak, base in zip(self.peak, self.base, strict=True)]


def test_handshake_ping_and_headers(server, client):
    assert client.server_version.count(".") == 3
    assert client.command("SELECT version()") == client.server_version
    assert client.ping()
    assert client.server_settings["max_execution_time"].readonly == 0  # read system.settings
    r = raw(server, "SELECT 1", query_id="q-123")
    assert r.status == 200 and r.data == b"1\n"
    assert r.headers["X-ClickHouse-Query-Id"] == "q-123"
    assert r.headers["X-ClickHouse-Format"] == "TabSeparated"
    assert r.headers["X-ClickHouse-Timezone"] == client.command("SELECT timezone()")
    assert r.headers["X-ClickHouse-Server-Display-Name"]
    tag = r.headers["X-ClickHouse-Exception-Tag"]
    assert len(tag) == 16 and tag.isalpha() and tag.islower()
    assert '"result_rows":"1"' in r.headers["X-ClickHouse-Summary"]
    assert urllib3.request("GET", f"{server.url}/ping").data == b"Ok.\n"


def test_error_codes_match_the_engine(client):
    rows = client.query(
        "SELECT DISTINCT name, code FROM system.errors WHERE name IN {names:Array(String)}",
        parameters={"names": list(_CODES)},
        settings={"system_events_show_zero_values": 1},
    ).result_rows
    assert dict(rows) == _CODES


HOSTILE = [
    "plain",
    'it\'s "quoted" `back`',
    "back\\slash \\n not a newline \\",
    "tab\there\nnewline\r\ncrlf",
    "nul\x00byte and \x01\x1f controls",
    "unicode ☃ 𝄞 é",
    "{param:String} ${x} %s '; DROP TABLE t; --",
    "x" * MiB + "\\'\t\n\x00",
]


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_bound_string_parameters_round_trip(client, value):
    got, length = client.query(
        "SELECT {v:String} AS v, length(v)", parameters={"v": value}
    ).result_rows[0]
    assert got == value and length == len(value.encode())


def test_bound_typed_parameters(client):
    when = dt.datetime(2024, 2, 29, 23, 59, 58, 123000)
    row = client.query(
        "SELECT {t:DateTime64(3)} AS t, {u:UInt32} AS u, {a:Array(String)} AS a, "
        "toTypeName(t), toUnixTimestamp64Milli(t)",
        parameters={"t": when, "u": 4294967295, "a": HOSTILE[:6]},
    ).result_rows[0]
    assert row[0] == when and row[1] == 4294967295 and row[2] == HOSTILE[:6]
    assert row[3] == "DateTime64(3)"
    assert row[4] == int(when.replace(tzinfo=dt.UTC).timestamp() * 1000)


def test_command_ddl_and_database_parameter(server, client):
    client.command("CREATE DATABASE IF NOT EXISTS other")
    client.command("CREATE TABLE other.kv (k String, v UInt8) ENGINE = MergeTree ORDER BY k")
    scoped = connect(server, database="other")
    scoped.command("INSERT INTO kv VALUES ('a', 1), ('b', 2)")
    assert scoped.command("SELECT sum(v) FROM kv") == 3
    assert client.command("SELECT currentDatabase()") == "default"
    assert "kv" in client.command("SHOW TABLES FROM other")
    client.command("DROP TABLE other.kv")
    assert client.command("EXISTS TABLE other.kv") == 0


def test_syntax_error_carries_the_clickhouse_code(server, client):
    with pytest.raises(DatabaseError) as err:
        client.query("SELEC 1")
    assert err.value.code == 62 and "SYNTAX_ERROR" in str(err.value)
    r = raw(server, "SELECT * FROM no_such_table")
    assert r.status == 404 and r.headers["X-ClickHouse-Exception-Code"] == "60"
    assert r.data.startswith(b"Code: 60. DB::Exception: ") and b"(version " in r.data


def test_authentication(server):
    with pytest.raises(DatabaseError) as err:
        connect(server, password="wrong")
    assert err.value.code == 516 and "AUTHENTICATION_FAILED" in str(err.value)
    with pytest.raises(DatabaseError):
        connect(server, username="default", password="")
    r = urllib3.request(
        "GET",
        f"{server.url}/?query=SELECT+1",
        headers={"X-ClickHouse-User": USER, "X-ClickHouse-Key": PASSWORD},
    )
    assert r.status == 200 and r.data == b"1\n"
    r = urllib3.request("GET", f"{server.url}/", fields={"query": "SELECT 2", "user": USER,
                                                        "password": PASSWORD})  # fmt: skip
    assert r.status == 200 and r.data == b"2\n"
    r = raw(server, "SELECT 3", user=USER, password=PASSWORD)  # basic auth and parameters
    assert r.status == 403 and r.headers["X-ClickHouse-Exception-Code"] == "516"
    assert b"simultaneously" in r.data


def test_max_execution_time_stops_a_slow_query(client):
    slow = "SELECT count() FROM numbers(100000000000) WHERE NOT ignore(sipHash64(number))"
    with pytest.raises(DatabaseError) as err:
        client.query(slow, settings={"max_execution_time": 1})
    assert err.value.code == 159 and "TIMEOUT_EXCEEDED" in str(err.value)
    with pytest.raises(DatabaseError) as err, client.query_arrow_stream(
        slow, settings={"max_execution_time": 1}
    ) as stream:  # fmt: skip
        list(stream)
    assert err.value.code == 159


def test_settings_are_per_query_and_sessions_keep_state(server):
    c = connect(server, session_id="s-keep")
    c.command("SET max_threads = 3")
    c.command("CREATE TEMPORARY TABLE tmp (x UInt8)")
    assert c.command("SELECT getSetting('max_threads')") == 3
    assert c.command("SELECT getSetting('max_threads')", settings={"max_threads": 5}) == 5
    assert c.command("SELECT getSetting('max_threads')") == 3  # the URL setting did not stick
    assert c.command("EXISTS TEMPORARY TABLE tmp") == 1
    other = connect(server, session_id="s-other")
    assert other.command("EXISTS TEMPORARY TABLE tmp") == 0
    with c.query_arrow_stream(WIDE) as stream:  # ~150 MiB: more than socket buffers hold
        next(iter(stream))  # the session is busy until this stream is read or closed
        twin = connect(server, session_id="s-keep", autogenerate_session_id=False)
        with pytest.raises(DatabaseError) as err:
            twin.command("SELECT 1")
        assert err.value.code == 373  # SESSION_IS_LOCKED
    # Closing the stream drops the connection; the server notices, cancels the query and
    # frees the session (a real server does the same, and is just as briefly locked).
    deadline = time.monotonic() + 10
    while True:
        try:
            assert c.command("SELECT 1") == 1
            break
        except DatabaseError as exc:
            assert exc.code == 373 and time.monotonic() < deadline
            time.sleep(0.05)


FRAME_TYPES = {
    "s": "String",
    "lc": "LowCardinality(String)",
    "ts": "DateTime64(3, 'UTC')",
    "m": "Map(String, String)",
    "a": "Array(String)",
    "u8": "UInt8",
    "u16": "UInt16",
    "u32": "UInt32",
    "u64": "UInt64",
    "f": "Float64",
}


def sample_frame(n):
    rng = np.random.default_rng(7)
    start = pd.Timestamp("2024-03-01 00:00:00")
    return pd.DataFrame(
        {
            "s": [HOSTILE[i % 7] + str(i) for i in range(n)],
            "lc": [("GET", "POST", "PUT")[i % 3] for i in range(n)],
            "ts": [start + pd.Timedelta(milliseconds=int(x)) for x in rng.integers(0, 9e9, n)],
            "m": [{"user-agent": HOSTILE[i % 7], "k\t": str(i)} for i in range(n)],
            "a": [[HOSTILE[i % 7], "", str(i)][: i % 4] for i in range(n)],
            "u8": rng.integers(0, 2**8, n, dtype=np.uint8),
            "u16": rng.integers(0, 2**16, n, dtype=np.uint16),
            "u32": rng.integers(0, 2**32, n, dtype=np.uint32),
            "u64": rng.integers(0, 2**63, n, dtype=np.uint64) * 2 + 1,
            "f": rng.normal(size=n),
        }
    )


def make_table(client, name):
    columns = ", ".join(f"{c} {t}" for c, t in FRAME_TYPES.items())
    client.command(f"CREATE TABLE {name} (i UInt32, {columns}) ENGINE = MergeTree ORDER BY i")


@pytest.mark.parametrize("compress", [True, False])
def test_insert_df_round_trip(server, compress):
    c = connect(server, compress=compress)
    name = f"frame_{int(compress)}"
    make_table(c, name)
    df = sample_frame(10_000)
    df.insert(0, "i", np.arange(len(df), dtype=np.uint32))
    assert c.insert_df(name, df).written_rows == len(df)
    back = c.query_df(f"SELECT * FROM {name} ORDER BY i")
    assert list(back.columns) == list(df.columns)
    for col in df.columns:
        assert list(back[col]) == list(df[col]), col


def test_insert_arrow_round_trip(client):
    make_table(client, "arrow_in")
    df = sample_frame(10_000)
    table = pa.table(
        {
            "i": pa.array(np.arange(len(df)), pa.uint32()),
            "s": pa.array(df["s"], pa.string()),
            "lc": pa.array(df["lc"], pa.string()),
            "ts": pa.array(df["ts"], pa.timestamp("ms", tz="UTC")),
            "m": pa.array([list(m.items()) for m in df["m"]], pa.map_(pa.string(), pa.string())),
            "a": pa.array(df["a"], pa.list_(pa.string())),
            **{c: pa.array(df[c]) for c in ("u8", "u16", "u32", "u64", "f")},
        }
    )
    assert client.insert_arrow("arrow_in", table).written_rows == len(df)
    back = client.query_arrow("SELECT * FROM arrow_in ORDER BY i")
    assert back.num_rows == len(df)
    for col in table.column_names:
        got, want = back[col].to_pylist(), table[col].to_pylist()
        if col == "ts":
            got = [t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t for t in got]
        assert got == want, col
    types = dict(client.query("SELECT name, type FROM system.columns WHERE table = 'arrow_in'")
                 .result_rows)  # fmt: skip
    assert types["lc"] == "LowCardinality(String)" and types["m"] == "Map(String, String)"


def test_empty_results_keep_their_schema(client):
    assert client.query_arrow("SELECT number AS n FROM numbers(10) WHERE n > 100").num_rows == 0
    with client.query_arrow_stream("SELECT number AS n FROM numbers(10) WHERE 0") as stream:
        assert sum(b.num_rows for b in stream) == 0
    df = client.query_df("SELECT number AS n FROM numbers(10) WHERE 0")
    assert len(df) == 0  # Native sends no block for an empty result, on ClickHouse too


@pytest.mark.slow
def test_two_million_rows_in_bounded_server_and_client_memory(server, client):
    """Memory follows the block size, not the result size.

    ~150 MiB of barely compressible rows, read in 8192-row blocks (about 0.6 MiB each); at the
    default 65409-row blocks chDB's own pipeline takes ~60-150 MiB whatever the result size.
    """
    expected_sum = ROWS * (ROWS - 1) // 2
    blocks = {"max_block_size": 8192}
    client.query("SELECT 1")
    gc.collect()
    with PeakRss(server.process.pid, psutil.Process().pid) as rss:
        rows = total = 0
        with client.query_arrow_stream(WIDE, settings=blocks) as stream:
            for batch in stream:
                rows += batch.num_rows
                total += pa.compute.sum(batch["n"]).as_py()
    server_mib, client_mib = rss.growth_mib()
    print(f"\nquery_arrow_stream: server +{server_mib:.0f} MiB, client +{client_mib:.0f} MiB")
    assert (rows, total) == (ROWS, expected_sum)
    assert server_mib < 64 and client_mib < 64

    with PeakRss(server.process.pid) as rss:
        df = client.query_df(WIDE, settings=blocks)
    print(f"query_df: server +{rss.growth_mib()[0]:.0f} MiB (spooled: wait_end_of_query=1)")
    assert len(df) == ROWS and int(df["n"].sum()) == expected_sum and df["s"].iloc[-1] == "1999999"
    assert rss.growth_mib()[0] < 64
    del df

    with PeakRss(server.process.pid) as rss:
        table = client.query_arrow(WIDE, settings=blocks)
    print(f"query_arrow: server +{rss.growth_mib()[0]:.0f} MiB")
    assert table.num_rows == ROWS and pa.compute.sum(table["n"]).as_py() == expected_sum
    assert rss.growth_mib()[0] < 64


def test_query_df_stream(client):
    with client.query_df_stream("SELECT number AS n FROM numbers(500000)") as stream:
        frames = list(stream)
    assert len(frames) > 1 and sum(len(f) for f in frames) == 500000


def test_errors_after_the_response_started(client):
    late = "SELECT number, throwIf(number = 1500000, 'boom') FROM numbers(2000000)"
    streamed = {"max_block_size": 10000, "wait_end_of_query": 0}
    with pytest.raises(StreamFailureError) as err:
        client.query(late, settings=streamed).result_rows  # noqa: B018
    assert err.value.code == 395 and "boom" in str(err.value)
    # clickhouse-connect hands the Arrow stream to pyarrow, which does not look for the framed
    # exception: the cut response surfaces as urllib3's ProtocolError (so it would on a server).
    rows = 0
    with pytest.raises(urllib3.exceptions.ProtocolError):
        with client.query_arrow_stream(late, settings=streamed) as stream:
            for batch in stream:
                rows += batch.num_rows
    assert 0 < rows <= 1500000
    with pytest.raises(DatabaseError) as err:  # spooled by wait_end_of_query=1: a plain HTTP 500
        client.query(late, settings={"max_block_size": 10000})
    assert err.value.code == 395 and not isinstance(err.value, StreamFailureError)
    with pytest.raises(DatabaseError) as err:  # before the first 1 MiB: a plain HTTP 500 too
        client.query("SELECT throwIf(number = 5, 'early') FROM numbers(10)", settings=streamed)
    assert err.value.code == 395 and not isinstance(err.value, StreamFailureError)
    assert client.command("SELECT 42") == 42  # the pool recovered from the cut connection


@pytest.mark.parametrize("compress", [True, False, "lz4", "zstd", "gzip", "deflate"])
def test_compression_on_and_off(server, compress):
    c = connect(server, compress=compress)
    assert c.query("SELECT sum(number), count() FROM numbers(200000)").result_rows == [
        (19999900000, 200000)
    ]
    with c.query_arrow_stream("SELECT toString(number) AS s FROM numbers(200000)") as stream:
        assert sum(b.num_rows for b in stream) == 200000
    if compress == "deflate":
        return  # clickhouse-connect 1.12 has no deflate request compressor (KeyError in insert)
    c.command(f"CREATE TABLE IF NOT EXISTS comp_{compress} (x UInt64) ENGINE = Memory")
    c.insert(f"comp_{compress}", [[i] for i in range(100000)], column_names=["x"])
    assert c.command(f"SELECT sum(x) FROM comp_{compress}") == 4999950000


@pytest.mark.parametrize(
    ("accept", "expected"),
    [("lz4", "lz4"), ("lz4,zstd,gzip,deflate", "zstd"), ("gzip;q=0, deflate", "deflate"),
     ("gzip", "gzip"), ("br", None)],
)  # fmt: skip
def test_response_encoding_on_the_wire(server, accept, expected):
    sql = "SELECT number FROM numbers(100000)"
    want = "".join(f"{i}\n" for i in range(100000)).encode()
    r = raw(server, sql, headers={"Accept-Encoding": accept}, enable_http_compression="1")
    assert r.headers.get("Content-Encoding") == expected
    decode = {
        "lz4": lz4.frame.decompress,
        "zstd": zstd.decompress,
        "gzip": lambda b: zlib.decompress(b, 31),
        "deflate": zlib.decompress,
        None: bytes,
    }[expected]
    assert decode(r.data) == want
    assert "Content-Encoding" not in raw(server, sql, headers={"Accept-Encoding": accept}).headers


def test_compressed_request_bodies(server, client):
    client.command("CREATE TABLE IF NOT EXISTS bodies (s String) ENGINE = Memory")
    rows = "".join(f"{HOSTILE[i % 5]!r}\n" for i in range(1000)).encode()
    for name, encode in [
        ("gzip", lambda b: zlib.compress(b, wbits=31)),
        ("lz4", lambda b: lz4.frame.compress(b[:500]) + lz4.frame.compress(b[500:])),
        ("zstd", zstd.compress),
    ]:
        r = raw(server, body=encode(b"INSERT INTO bodies FORMAT LineAsString\n" + rows),
                headers={"Content-Encoding": name})  # fmt: skip
        assert r.status == 200, r.data
        assert '"written_rows":"1000"' in r.headers["X-ClickHouse-Summary"]
    assert client.command("SELECT count() FROM bodies") == 3000


def test_one_chdb_engine_per_process(tmp_path):
    """Pins what the module docstring says: same path shares, another path fails."""
    script = textwrap.dedent(
        f"""
        import clickhouse_connect
        from chdb.session import Session
        from tests.support.chdb_http import ChdbHttpServer
        from workbench.errors import StoreError
        embedded = Session({str(tmp_path / "a")!r})
        embedded.query("CREATE TABLE shared (x UInt8) ENGINE = MergeTree ORDER BY x")
        embedded.query("INSERT INTO shared VALUES (7)")
        with ChdbHttpServer({str(tmp_path / "a")!r}) as srv:
            c = clickhouse_connect.get_client(host=srv.host, port=srv.port)
            assert c.command("SELECT x FROM shared") == 7
        try:
            ChdbHttpServer({str(tmp_path / "b")!r}).start()
        except StoreError as exc:
            print("second path:", exc)
        """
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "second path:" in done.stdout and "EmbeddedServer already initialized" in done.stdout
    assert "use ChdbHttpServerProcess" in done.stdout
