"""Timestamps, URIs, ids, raw-text limits, ClickHouse types, line reading."""

from __future__ import annotations

import gzip
import io
from datetime import UTC, datetime

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.errors import InputError
from workbench.ingest import parse_timestamp, record_ids, split_target
from workbench.ingest.access_log import split_targets
from workbench.ingest.chtypes import coerce_column, convert, parse_type, schema_columns
from workbench.ingest.common import RAW_LIMIT, cut_text, reject
from workbench.ingest.reader import fingerprint, read_lines

MS_2015 = int(datetime(2015, 5, 17, 10, 5, 3, tzinfo=UTC).timestamp() * 1000)


@pytest.mark.parametrize(
    "value",
    [
        "2015-05-17T10:05:03Z",
        "2015-05-17T10:05:03.000Z",
        "2015-05-17t10:05:03.000000000z",
        "2015-05-17T12:05:03+02:00",
        "2015-05-17T05:05:03-0500",
        "2015-05-17 10:05:03",
        1431857103,
        1431857103.0,
        1431857103000,
        1431857103000000,
        1431857103000000000,
    ],
)
def test_timestamp_forms_agree(value):
    assert parse_timestamp(value) == MS_2015


def test_timestamp_fractions_truncate_to_milliseconds():
    assert parse_timestamp("2015-05-17T10:05:03.1239Z") == MS_2015 + 123
    assert parse_timestamp(1431857103.25) == MS_2015 + 250
    assert parse_timestamp(1431857103123456789) == MS_2015 + 123


@pytest.mark.parametrize(
    "value",
    ["", "yesterday", "2015-02-30T00:00:00Z", "2015-05-17T25:00:00Z", "2015-05-17T10:05:03+24:00",
     True, None, [], float("nan"), float("inf"), "1431857103", 10**30, "2400-01-01T00:00:00Z"],
)  # fmt: skip
def test_bad_timestamps_raise_value_error(value):
    with pytest.raises(ValueError):
        parse_timestamp(value)


def test_numeric_strings_only_when_asked():
    assert parse_timestamp(" 1431857103 ", numeric_strings=True) == MS_2015
    assert parse_timestamp("1431857103.5", numeric_strings=True) == MS_2015 + 500


def test_split_target_forms():
    assert split_target("/a/b?x=1&y=2") == ("", "", "/a/b", "x=1&y=2", "/a/b?x=1&y=2")
    assert split_target("http://u:p@Host:8080/p?q") == ("http", "Host:8080", "/p", "q", "/p?q")
    assert split_target("HTTPS://h") == ("https", "h", "/", "", "/")
    assert split_target("http://h?x") == ("http", "h", "/", "x", "/?x")
    assert split_target("/p?") == ("", "", "/p", "", "/p?")
    assert split_target("*") == ("", "", "*", "", "*")


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.one_of(st.text(max_size=40), st.from_regex(r"[a-z]{1,5}://[^\s]{0,20}", fullmatch=True)),
        max_size=20,
    )
)
def test_vectorised_split_matches_python(targets):
    arrays = split_targets(pa.array(targets, type=pa.string()))
    columns = [a.to_pylist() for a in arrays]
    assert list(zip(*columns, strict=True)) == [split_target(t) for t in targets]


def test_record_ids_are_deterministic_and_distinct():
    ids = record_ids("abc", range(1, 1001))
    assert ids == record_ids("abc", range(1, 1001))
    assert len(set(ids)) == 1000
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids)
    assert record_ids("abd", [1]) != record_ids("abc", [1])


def test_cut_text_respects_bytes_and_characters():
    text = "é" * RAW_LIMIT  # two bytes each
    cut = cut_text(text)
    assert len(cut.encode()) <= RAW_LIMIT and text.startswith(cut) and len(cut) == RAW_LIMIT // 2
    assert cut_text("short") == "short"
    assert len(reject(1, "r" * 5000, "x" * (RAW_LIMIT + 10)).raw) == RAW_LIMIT


def test_parse_type_handles_the_schema_types():
    for table in ("http_requests", "auth_events", "payloads", "labels", "scores", "alerts",
                  "quarantine", "ingest_files"):  # fmt: skip
        for ch_type in schema_columns(table).values():
            parse_type(ch_type)
    assert parse_type("Nullable(UInt16)").nullable
    assert parse_type("LowCardinality(Nullable(String))").kind == "string"
    assert parse_type("Map(String, Float64)").item.kind == "float"
    with pytest.raises(InputError, match="Decimal"):
        parse_type("Decimal(10, 2)")


def test_convert_strict_and_lenient():
    u8 = parse_type("UInt8")
    assert convert(7, u8, strict=True) == 7
    assert convert("7", u8, strict=False) == 7
    assert convert("7.0", u8, strict=False) == 7
    assert convert("", u8, strict=False) == 0
    for bad, strict in [
        ("7", True),
        (7.5, True),
        (True, True),
        (256, True),
        (-1, False),
        ("x", False),
    ]:
        with pytest.raises(ValueError):
            convert(bad, u8, strict=strict)
    headers = parse_type("Map(String, String)")
    assert convert({"a": "b"}, headers, strict=True) == [("a", "b")]
    assert convert('{"a": "b"}', headers, strict=False) == [("a", "b")]
    with pytest.raises(ValueError, match="key 'a'"):
        convert({"a": 1}, headers, strict=True)
    with pytest.raises(ValueError):
        convert("[1]", headers, strict=False)
    assert convert("1.2.3.4", parse_type("IPv4"), strict=False) == "1.2.3.4"
    with pytest.raises(ValueError):
        convert("::1", parse_type("IPv4"), strict=False)


def test_coerce_column_fast_and_slow_paths_agree():
    ct = parse_type("UInt16")
    good, errors = coerce_column(pa.array(["1", "", "65535"]), ct)
    assert good.to_pylist() == [1, 0, 65535] and errors == {}
    mixed, errors = coerce_column(pa.array(["1", "65536", " 2 ", "x"]), ct)
    assert mixed.to_pylist() == [1, 0, 2, 0]
    assert set(errors) == {1, 3} and "out of range" in errors[1]
    stamps = pa.array([datetime(2015, 5, 17, 10, 5, 3), None], pa.timestamp("us"))
    out, errors = coerce_column(stamps, parse_type("DateTime64(3, 'UTC')"))
    assert out.cast(pa.int64()).to_pylist() == [MS_2015, 0] and not errors


def test_read_lines_keeps_every_byte_and_cuts_long_lines():
    data = b"a\r\nb\xff\xfe\n\n" + b"x" * 5000 + b"\nlast"
    lines = list(read_lines(io.BytesIO(data), max_line_bytes=100))
    assert [line.number for line in lines] == [1, 2, 3, 4, 5]
    assert lines[0].text == "a\r\n" and lines[1].text == "b\ufffd\ufffd\n"
    assert lines[3].cut and lines[3].nbytes == 5001 and not lines[4].cut
    assert sum(line.nbytes for line in lines) == len(data)


def test_fingerprint_of_gzip_is_that_of_its_content(tmp_path):
    plain, packed = tmp_path / "a.log", tmp_path / "a.log.gz"
    plain.write_bytes(b"hello\n" * 1000)
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert fingerprint(plain).sha256 == fingerprint(packed).sha256
    assert fingerprint(packed).compressed and not fingerprint(plain).compressed
    broken = tmp_path / "b.gz"
    broken.write_bytes(gzip.compress(b"x" * 100_000)[:-20])
    with pytest.raises(InputError, match="gzip"):
        fingerprint(broken)
    with pytest.raises(InputError, match="no such file"):
        fingerprint(tmp_path / "missing")
