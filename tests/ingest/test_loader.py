"""ingest() on both store backends: real files with exact counts, the ledger, .gz, resume, CLI.

Expected numbers are computed here from the raw files with plain Python (``re``, ``csv``),
independently of the parsers under test.
"""

from __future__ import annotations

import csv
import gzip
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workbench.errors import InputError, StoreError
from workbench.ingest import cli, ingest, scan
from workbench.ingest.cli import parse_mapping

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "data_samples" / "ingest"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
COMBINED = re.compile(r'(\S+) \S+ \S+ \[([^\]]+)\] "([^"]*)" (\d{3}) (\d+|-) "([^"]*)" "([^"]*)"')


def rows_of(store, table: str, source: str) -> int:
    found = store.query_arrow(
        f"SELECT count() FROM {table} WHERE Source = {{s:String}}",  # noqa: S608 - test constant
        {"s": source},
    )
    return found.column(0)[0].as_py()


def quarantined(store, source: str) -> list[tuple[int, str, str]]:
    df = store.query_df(
        "SELECT LineNumber, Reason, Raw FROM quarantine WHERE Source = {s:String} "
        "ORDER BY LineNumber",
        {"s": source},
    )
    return list(df.itertuples(index=False, name=None))


def test_real_access_log_exact_counts(store, shared_data):
    path = shared_data / "access_logs" / "apache_combined_2015.log"
    lines = path.read_text(encoding="utf-8").split("\n")[:-1]
    matches = {n: COMBINED.fullmatch(line) for n, line in enumerate(lines, 1)}
    good = {n: m for n, m in matches.items() if m}
    assert len(lines) == 10_000

    result = ingest(store, "access-log", path, progress=False)
    (f,) = result.files
    assert (f.read, f.loaded, f.quarantined, f.blank) == (10_000, len(good), 10_000 - len(good), 0)
    assert f.read == f.loaded + f.quarantined and not f.already_loaded
    assert rows_of(store, "http_requests", f.source) == len(good) == 9_999
    bad = [n for n, m in matches.items() if not m]
    assert [(n, raw) for n, _, raw in quarantined(store, f.source)] == [
        (n, lines[n - 1]) for n in bad
    ]

    stats = store.query_df(
        "SELECT uniqExact(ClientIP) AS ips, sum(EdgeResponseBytes) AS bytes, "
        "min(EdgeStartTimestamp) AS first, max(EdgeStartTimestamp) AS last, "
        "countIf(ClientRequestMethod = 'GET') AS gets FROM http_requests WHERE Source = {s:String}",
        {"s": f.source},
    ).iloc[0]
    stamps = [datetime.strptime(m[2], "%d/%b/%Y:%H:%M:%S %z") for m in good.values()]
    assert stats["ips"] == len({m[1] for m in good.values()}) == 1_753
    assert stats["bytes"] == sum(int(m[5]) for m in good.values() if m[5] != "-")
    assert stats["first"] == min(stamps) and stats["last"] == max(stamps)
    assert stats["gets"] == sum(m[3].startswith("GET ") for m in good.values())
    statuses = store.query_df(
        "SELECT EdgeResponseStatus AS s, count() AS n FROM http_requests "
        "WHERE Source = {s:String} GROUP BY s",
        {"s": f.source},
    )
    assert dict(zip(statuses.s, statuses.n, strict=True)) == Counter(
        int(m[4]) for m in good.values()
    )

    again = ingest(store, "access-log", [path], progress=False).files[0]
    assert again.already_loaded and (again.read, again.loaded, again.quarantined) == (0, 0, 0)
    assert "already loaded" in again.summary()
    assert rows_of(store, "http_requests", f.source) == len(good)


def test_gzip_copy_loads_identically(store, shared_data, tmp_path, monkeypatch):
    path = shared_data / "access_logs" / "apache_combined_2015.log"
    packed = tmp_path / "access.log.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    store.command("DROP TABLE IF EXISTS http_requests_gz")
    store.command("CREATE TABLE http_requests_gz AS http_requests")
    store.forget_columns()
    monkeypatch.setattr(scan, "CHUNK_RECORDS", 997)  # many chunks, boundaries anywhere
    plain = ingest(store, "access-log", path, table="http_requests_gz", progress=False).files[0]
    assert (
        ingest(store, "access-log", packed, table="http_requests_gz", progress=False)
        .files[0]
        .already_loaded
    )
    store.command("TRUNCATE TABLE http_requests_gz")
    store.command(  # forget this load in the ledger, so that the .gz really loads
        "ALTER TABLE ingest_files DELETE WHERE TargetTable = 'http_requests_gz'",
        settings={"mutations_sync": 2},
    )
    gz = ingest(store, "access-log", packed, table="http_requests_gz", progress=False).files[0]
    assert (gz.read, gz.loaded, gz.quarantined) == (plain.read, plain.loaded, plain.quarantined)
    assert gz.sha256 == plain.sha256
    columns = "RayID, EdgeStartTimestamp, ClientIP, ClientRequestURI, ClientRequestUserAgent, EdgeResponseBytes"
    ours = store.query_df(f"SELECT {columns} FROM http_requests_gz ORDER BY RayID")  # noqa: S608
    reference = store.query_df(
        f"SELECT {columns} FROM http_requests WHERE endsWith(Source, {{s:String}}) ORDER BY RayID",  # noqa: S608
        {"s": "#" + gz.sha256[:16]},
    )
    assert len(ours) == 9_999 and ours.equals(reference)
    store.command("DROP TABLE http_requests_gz")


def test_real_auth_log_exact_counts(store, shared_data):
    path = shared_data / "auth_logs" / "sshd_auth.log"
    lines = path.read_text(encoding="utf-8").split("\n")[:-1]
    result = ingest(store, "auth-log", path, year=2017, progress=False)
    (f,) = result.files
    assert (f.read, f.loaded, f.quarantined) == (len(lines), len(lines), 0) == (7_121,) * 2 + (0,)

    def by(sql: str) -> Counter:
        df = store.query_df(sql + " AND Source = {s:String} GROUP BY k", {"s": f.source})
        return Counter(dict(zip(df.k, df.n, strict=True)))

    failed = Counter(
        m[1]
        for line in lines
        if (m := re.search(r"Failed password for .* from (\S+) port \d+ ssh2", line))
    )
    assert by("SELECT SourceIP AS k, count() AS n FROM auth_events "
              "WHERE EventType = 'login_failure' AND AuthMethod = 'password'") == failed  # fmt: skip
    assert failed["24.151.103.17"] == 157
    # a "message repeated N times: [ Failed password ... ]" line is one row with Repeats = N
    attempts: Counter = Counter()
    folded = 0
    for line in lines:
        m = re.search(r"\]: (?:message repeated (\d+) times: \[ ?)?"
                      r"Failed password for .* from (\S+) port \d+ ssh2", line)  # fmt: skip
        if m:
            attempts[m[2]] += int(m[1] or 1)
            folded += m[1] is not None
    assert folded > 0 and sum(attempts.values()) > sum(failed.values()) + folded
    assert by("SELECT SourceIP AS k, sum(Repeats) AS n FROM auth_events "
              "WHERE EventType = 'login_failure' AND AuthMethod = 'password'") == attempts  # fmt: skip
    events = sum(int(m[1]) if (m := re.search(r"\]: message repeated (\d+) times: \[", line)) else 1
                 for line in lines)  # fmt: skip
    assert by("SELECT 'x' AS k, sum(Repeats) AS n FROM auth_events WHERE 1")["x"] == events
    accepted = Counter(
        m[1] for line in lines if (m := re.search(r"Accepted \S+ for (\S+) from", line))
    )
    assert by("SELECT User AS k, count() AS n FROM auth_events "
              "WHERE EventType = 'login_success'") == accepted  # fmt: skip
    sudo = Counter(m[1] for line in lines if (m := re.search(r"sudo: +(\S+) : .*COMMAND=", line)))
    assert by("SELECT User AS k, count() AS n FROM auth_events WHERE EventType = 'sudo'") == sudo
    invalid = sum(" Invalid user " in line for line in lines)
    assert (
        by("SELECT 'x' AS k, count() AS n FROM auth_events WHERE EventType = 'invalid_user'")["x"]
        == invalid
    )

    first = datetime.strptime("2017 " + lines[0][:15], "%Y %b %d %H:%M:%S").replace(tzinfo=UTC)
    last = datetime.strptime("2017 " + lines[-1][:15], "%Y %b %d %H:%M:%S").replace(tzinfo=UTC)
    span = store.query_df(
        "SELECT min(EventTime) AS a, max(EventTime) AS b, count() AS n, uniqExact(EventID) AS ids "
        "FROM auth_events WHERE Source = {s:String}",
        {"s": f.source},
    ).iloc[0]
    assert (span["a"], span["b"], span["n"], span["ids"]) == (first, last, 7_121, 7_121)
    raws = store.query_df("SELECT Raw FROM auth_events WHERE Source = {s:String}", {"s": f.source})
    assert Counter(raws.Raw) == Counter(lines)


def test_real_payload_csvs_exact_counts(store, shared_data):
    folder = shared_data / "http_params"
    result = ingest(store, "payload-csv", [folder / "payload_train.csv", folder / "payload_test.csv"],
                    progress=False)  # fmt: skip
    for f, name, rows in zip(result.files, ("train", "test"), (20_712, 10_355), strict=True):
        with open(folder / f"payload_{name}.csv", newline="", encoding="utf-8") as handle:
            records = list(csv.DictReader(handle))
        assert (
            (f.read, f.loaded, f.quarantined) == (len(records), len(records), 0) == (rows, rows, 0)
        )
        df = store.query_df(
            "SELECT Payload, AttackType, label, Split FROM payloads WHERE Source = {s:String}",
            {"s": f.source},
        )
        assert set(df.Split) == {name}
        assert Counter(zip(df.AttackType, df.label, strict=True)) == Counter(
            (r["attack_type"], r["label"]) for r in records
        )
        assert Counter(df.Payload) == Counter(r["payload"] for r in records)
    assert result.read == result.loaded == 31_067


def test_csic_dumps_with_labels(store):
    normal = ingest(
        store, "http-dump", FIXTURES / "csic_normal.txt", label="normal", progress=False
    )
    anomalous = ingest(store, "http-dump", [FIXTURES / "csic_anomalous.txt"], label="anomalous",
                       progress=False)  # fmt: skip
    df = store.query_df(
        "SELECT label, ClientRequestMethod AS m, RequestHeaders['user-agent'] AS ua, RequestBody "
        "FROM http_requests WHERE Source IN ({a:String}, {b:String}) ORDER BY label, RayID",
        {"a": normal.files[0].source, "b": anomalous.files[0].source},
    )
    assert Counter(df.label) == {"normal": 4, "anomalous": 3}
    assert Counter(df.m) == {"GET": 4, "POST": 3}
    assert "sqlmap/1.0" in set(df.ua)
    assert df.RequestBody.str.contains("%3Cscript%3E").sum() == 1


def test_samples_of_every_format_load(store):
    cases = [
        ("logpush", "logpush_http_requests.ndjson", {}, 200, 0),
        ("access-log", "access_combined.log", {}, 301, 1),
        ("auth-log", "auth.log", {"year": 2017}, 601, 0),
        ("payload-csv", "payloads_train.csv", {}, 200, 0),
        ("http-dump", "csic_style_requests.txt", {"label": "normal"}, 4, 0),
        ("csv", "analyst_labels.csv", {"table": "labels", "mapping": {
            "when": "LabelTime", "ip": "Entity", "verdict": "Verdict", "analyst": "Analyst",
            "note": "Note"}}, 40, 0),
        ("parquet", "requests.parquet", {"table": "http_requests", "mapping": {
            "ts": "EdgeStartTimestamp", "ip": "ClientIP", "method": "ClientRequestMethod",
            "path": "ClientRequestPath", "status": "EdgeResponseStatus",
            "ua": "ClientRequestUserAgent"}}, 100, 0),
    ]  # fmt: skip
    for fmt, name, options, read, bad in cases:
        result = ingest(store, fmt, SAMPLES / name, progress=False, **options)
        f = result.files[0]
        if f.already_loaded:  # the same sample content may have been loaded by another test
            continue
        assert (f.read, f.quarantined, f.loaded) == (read, bad, read - bad), name
        if fmt == "logpush":
            assert f.unknown_fields == {"CacheCacheStatus": 200, "ZoneName": 200}
        if fmt == "parquet":
            df = store.query_df(
                "SELECT min(EdgeStartTimestamp) AS t, sum(EdgeResponseStatus) AS s FROM "
                "http_requests WHERE Source = {s:String}",
                {"s": f.source},
            )
            assert df.t[0].year == 2015 and df.s[0] > 200 * 50


def test_interrupted_load_is_resumed_without_duplicates(store, shared_data, tmp_path, monkeypatch):
    lines = (shared_data / "auth_logs" / "sshd_auth.log").read_bytes().split(b"\n")
    path = tmp_path / "part.log"
    path.write_bytes(b"\n".join(lines[:3000]) + b"\nnot syslog at all\n")
    monkeypatch.setattr(scan, "CHUNK_RECORDS", 1000)

    class Failing:
        """The real store, except that the second insert into auth_events fails."""

        def __init__(self, inner):
            self.inner, self.inserts = inner, 0

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def insert_arrow(self, table, data):
            if table == "auth_events":
                self.inserts += 1
                if self.inserts == 2:
                    raise StoreError("connection lost (simulated)")
            return self.inner.insert_arrow(table, data)

    with pytest.raises(StoreError, match="simulated"):
        ingest(Failing(store), "auth-log", path, year=2017, progress=False)
    source = f"part.log#{__import__('hashlib').sha256(path.read_bytes()).hexdigest()[:16]}"
    assert rows_of(store, "auth_events", source) == 1_000
    f = ingest(store, "auth-log", path, year=2017, progress=False).files[0]
    assert f.source == source and f.cleaned == 1_000
    assert (f.read, f.loaded, f.quarantined) == (3_001, 3_000, 1)
    assert rows_of(store, "auth_events", source) == 3_000
    assert [n for n, _, _ in quarantined(store, source)] == [3_001]
    assert ingest(store, "auth-log", path, year=2017, progress=False).files[0].already_loaded


def test_option_errors_name_the_problem(store, tmp_path):
    sample = SAMPLES / "access_combined.log"
    with pytest.raises(InputError, match="unknown format 'nginx'"):
        ingest(store, "nginx", sample)
    with pytest.raises(InputError, match="no such file"):
        ingest(store, "access-log", tmp_path / "missing.log")
    with pytest.raises(InputError, match="--year is for auth-log"):
        ingest(store, "access-log", sample, year=2017)
    with pytest.raises(InputError, match="needs a target table"):
        ingest(store, "csv", sample)
    with pytest.raises(InputError, match="--map is for csv"):
        ingest(store, "access-log", sample, mapping={"a": "b"})
    with pytest.raises(InputError, match="carry their own labels"):
        ingest(store, "payload-csv", sample, label="x")
    with pytest.raises(InputError, match="lacks column"):
        ingest(store, "access-log", sample, table="labels")
    with pytest.raises(StoreError):
        ingest(store, "access-log", sample, table="no_such_table")
    with pytest.raises(InputError, match="analyst_labels.csv: --map nope=Note"):
        ingest(
            store, "csv", SAMPLES / "analyst_labels.csv", table="labels", mapping={"nope": "Note"}
        )


def test_cli_prints_counts(store, monkeypatch):
    monkeypatch.setattr(cli, "connect", lambda: store)
    runner = CliRunner()
    out = runner.invoke(cli.app, ["auth-log", "--year", "2017", "--no-progress",
                                  str(FIXTURES / "csic_normal.txt")])  # fmt: skip
    lines = (FIXTURES / "csic_normal.txt").read_bytes().split(b"\n")[:-1]
    records = sum(1 for line in lines if line.strip())
    assert out.exit_code == 0, out.output
    assert (
        f"read {records}, loaded 0, quarantined {records} ({len(lines) - records} blank lines)"
        in out.output
    )
    assert (
        "already loaded"
        in runner.invoke(
            cli.app,
            ["auth-log", "--year", "2017", "--no-progress", str(FIXTURES / "csic_normal.txt")],
        ).output
    )
    failed = runner.invoke(cli.app, ["csv", "--table", "labels", "--map", "x", "--no-progress",
                                     str(SAMPLES / "analyst_labels.csv")])  # fmt: skip
    assert isinstance(failed.exception, InputError)
    assert parse_mapping(["a=b", "c=d=e"]) == {"a": "b", "c": "d=e"}
    with pytest.raises(InputError, match="mapped twice"):
        parse_mapping(["a=b", "a=c"])
