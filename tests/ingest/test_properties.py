"""Hostile input at every format: random bytes, invalid UTF-8, megabyte lines, truncated JSON,
CRLF header injection. Nothing crashes and every record is accounted for: read = loaded +
quarantined, and for line formats every non-blank line is either a row or a reject.
"""

from __future__ import annotations

import gzip
import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.errors import InputError
from workbench.ingest import record_ids, scan_file
from workbench.ingest.reader import MAX_LINE_BYTES

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
_counter = itertools.count()

GOOD_ACCESS = b'1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET /a?b=1 HTTP/1.1" 200 5 "-" "ua"'
GOOD_AUTH = b"Mar 27 13:09:40 web1 sshd[2]: Failed password for root from 1.2.3.4 port 22 ssh2"
GOOD_LOGPUSH = json.dumps({"EdgeStartTimestamp": 1715940303, "ClientIP": "1.2.3.4"}).encode()
GOOD_REQUEST = b"POST http://h/p?q=1 HTTP/1.1\r\nHost: h\r\nUser-Agent: x\r\n\r\nbody"

hostile_fragments = st.sampled_from(
    [
        b"", b"\x00", b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"\r", b"\r\n", b"\n", b"\n\n",
        b'"', b'""', b",", b"\\", b"{", b'{"EdgeStartTimestamp": ', b"[", b"]", b"}",
        b"User-Agent: x\r\nX-Evil: 1", b"GET / HTTP/1.1", b"Host: h", b":", b"\t", b" ",
        b"Mar 27 13:09:40 ", b"[17/May/2015:10:05:03 +0000]", b"\xe2\x80\xa8", b"\x1f\x8b",
        b"message repeated 2 times: [ ", b"COMMAND=", b"\x85",
    ]
)  # fmt: skip


def hostile_files(good: bytes) -> st.SearchStrategy[bytes]:
    """Random bytes, good records, fragments and their truncations, glued together."""
    piece = st.one_of(
        st.binary(max_size=200),
        hostile_fragments,
        st.just(good),
        st.integers(0, len(good)).map(lambda n: good[:n]),  # truncated records
        st.text(max_size=50).map(lambda t: t.encode("utf-8", "surrogatepass")),
    )
    return st.lists(piece, max_size=25).map(b"".join)


def write(tmp_path, data: bytes, compress: bool, name: str = "input"):
    path = tmp_path / f"{name}-{next(_counter)}{'.gz' if compress else ''}"
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def looks_gzip(data: bytes) -> bool:
    """Random bytes that start like a gzip header are read as (corrupt) gzip."""
    return len(data) >= 4 and data[:3] == b"\x1f\x8b\x08" and not data[3] & 0xE0


def account(path, fmt, **options):
    """Scan a file; check the per-chunk invariant; return rows, rejects, read, scan."""
    scan = scan_file(path, fmt, **options)
    rows, rejects, read = [], [], 0
    for table, bad, count in scan.batches():
        assert table.num_rows + len(bad) == count
        rows.append(table)
        rejects.extend(bad)
        read += count
    assert all(len(r.raw.encode()) <= 65536 and r.reason for r in rejects)
    return rows, rejects, read, scan


def non_blank_lines(data: bytes) -> list[int]:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    decoded = [line.decode("utf-8", "replace") for line in lines]
    if decoded:
        decoded[0] = decoded[0].removeprefix("\ufeff")
    return [i for i, text in enumerate(decoded, 1) if text.strip()]


def check_line_format(tmp_path, data, compress, fmt, id_column, **options):
    path = write(tmp_path, data, compress)
    if looks_gzip(data) and not compress:
        with pytest.raises(InputError, match="gzip"):
            account(path, fmt, **options)
        return [], []
    rows, rejects, read, scan = account(path, fmt, **options)
    expected = non_blank_lines(data)
    assert read == len(expected)
    ids = {i for table in rows for i in table.column(id_column).to_pylist()}
    by_line = dict(zip(record_ids(scan.file_id, expected), expected, strict=True))
    loaded_lines = {by_line[i] for i in ids if i in by_line}
    rejected_lines = {r.line for r in rejects}
    assert loaded_lines | rejected_lines == set(expected)
    assert not loaded_lines & rejected_lines
    return rows, rejects


@SETTINGS
@given(data=hostile_files(GOOD_ACCESS), compress=st.booleans())
def test_access_log_accounts_for_every_line(tmp_path, data, compress):
    check_line_format(tmp_path, data, compress, "access-log", "RayID")


@SETTINGS
@given(data=hostile_files(GOOD_AUTH), compress=st.booleans())
def test_auth_log_accounts_for_every_line(tmp_path, data, compress):
    check_line_format(tmp_path, data, compress, "auth-log", "EventID", year=2020)


@SETTINGS
@given(data=hostile_files(GOOD_LOGPUSH), compress=st.booleans())
def test_logpush_accounts_for_every_line(tmp_path, data, compress):
    rows, _ = check_line_format(tmp_path, data, compress, "logpush", "RayID")


@SETTINGS
@given(data=hostile_files(GOOD_REQUEST), compress=st.booleans())
def test_http_dump_accounts_for_every_request(tmp_path, data, compress):
    path = write(tmp_path, data, compress)
    if looks_gzip(data) and not compress:
        return
    rows, rejects, read, scan = account(path, "http-dump")
    loaded = sum(t.num_rows for t in rows)
    assert read == loaded + len(rejects)
    requests = sum(
        1 for n in non_blank_lines(data)
        if __import__("re").fullmatch(r"[A-Za-z]+ \S.*? HTTP/\d(?:\.\d)?",
                                      data.split(b"\n")[n - 1].decode("utf-8", "replace").removesuffix("\r"))
    )  # fmt: skip
    assert loaded <= requests <= read


@SETTINGS
@given(data=hostile_files(b'"a,b","3","sqli","anom"\r\n'), compress=st.booleans())
def test_payload_csv_accounts_for_every_record(tmp_path, data, compress):
    path = write(tmp_path, b"payload,length,attack_type,label\n" + data, compress)
    rows, rejects, read, _ = account(path, "payload-csv")
    assert read == sum(t.num_rows for t in rows) + len(rejects)
    assert all(r.line >= 2 for r in rejects)


@SETTINGS
@given(data=hostile_files(b"2024-01-01T00:00:00Z,bob,1.2.3.4,22\n"), compress=st.booleans())
def test_mapped_csv_accounts_for_every_record(tmp_path, data, compress):
    path = write(tmp_path, b"when,User,ip,port\n" + data, compress)
    rows, rejects, read, _ = account(
        path, "csv", table="auth_events",
        mapping={"when": "EventTime", "ip": "SourceIP", "port": "SourcePort"},
    )  # fmt: skip
    assert read == sum(t.num_rows for t in rows) + len(rejects)


@SETTINGS
@given(data=st.binary(max_size=300))
def test_random_bytes_as_csv_header_is_a_clear_error_or_accounted(tmp_path, data):
    path = write(tmp_path, data, False)
    try:
        rows, rejects, read, _ = account(path, "payload-csv")
    except InputError as exc:
        assert "header" in str(exc) or "gzip" in str(exc)
    else:
        assert read == sum(t.num_rows for t in rows) + len(rejects)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fmt", "good", "options"),
    [
        ("access-log", GOOD_ACCESS, {}),
        ("auth-log", GOOD_AUTH, {"year": 2020}),
        ("logpush", GOOD_LOGPUSH, {}),
        ("http-dump", GOOD_REQUEST, {}),
        ("payload-csv", b'"a","1","sqli","anom"', {}),
    ],
)
def test_megabyte_and_oversized_lines(tmp_path, fmt, good, options):
    header = b"payload,length,attack_type,label\n" if fmt == "payload-csv" else b""
    megabyte = b"A" * 2**20
    json_mb = json.dumps({"EdgeStartTimestamp": 1, "ClientRequestUserAgent": "u" * 2**20}).encode()
    huge = b"x" * (MAX_LINE_BYTES + 10)
    data = (
        header + b"\n".join([good, megabyte, json_mb, huge, good + b" " + megabyte, good]) + b"\n"
    )
    path = write(tmp_path, data, False)
    rows, rejects, read, _ = account(path, fmt, **options)
    assert read == sum(t.num_rows for t in rows) + len(rejects)
    assert any(r.reason.startswith("record too long") for r in rejects)
    if fmt == "logpush":
        loaded = [ua for t in rows for ua in t.column("ClientRequestUserAgent").to_pylist()]
        assert "u" * 2**20 in loaded  # a megabyte value under the line limit loads whole
