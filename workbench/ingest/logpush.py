"""Cloudflare Logpush ``http_requests`` NDJSON: one JSON object per line.

Field names are Logpush's own (``RayID``, ``EdgeStartTimestamp``, ``ClientIP`` ...), so a
Logpush export loads as it is. Every column of ``http_requests`` except ``Source`` is
accepted; other fields (``CacheCacheStatus``, ``ZoneName`` ...) are counted per name and
reported, not loaded and not an error.

Values must have their JSON type: a number column takes a JSON number, a string column a JSON
string, ``RequestHeaders`` an object of strings; ``null`` means "not set" (column default).
Timestamps may be RFC 3339 strings, unix seconds (int or float), milliseconds, microseconds
or nanoseconds, detected per value (see :func:`workbench.ingest.common.parse_timestamp`).
A record without ``EdgeStartTimestamp`` is rejected; one without ``RayID`` gets a
deterministic id from the file hash and line number.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping

import pyarrow as pa

from workbench.ingest.chtypes import ColumnType, build_array, convert, parse_type, schema_columns
from workbench.ingest.common import Record, Reject, count_unknown, cut_text, record_ids, reject

TABLE = "http_requests"
#: Columns the loader sets itself; a record carrying them has them counted as unknown.
RESERVED = frozenset({"Source"})
REQUIRED = ("EdgeStartTimestamp",)


def _fields(columns: Mapping[str, str] | None) -> dict[str, ColumnType]:
    columns = columns if columns is not None else schema_columns(TABLE)
    return {name: parse_type(t) for name, t in columns.items() if name not in RESERVED}


def parse_logpush(
    records: Iterable[Record],
    *,
    file_id: str = "",
    columns: Mapping[str, str] | None = None,
    unknown: Counter | None = None,
) -> tuple[pa.Table, list[Reject]]:
    """Parse Logpush ``http_requests`` NDJSON lines.

    Parameters
    ----------
    records : iterable of (int, str)
        Line number and text (without terminator) of each non-blank line.
    file_id : str, optional
        Content hash of the file, for ids of records without ``RayID``.
    columns : mapping, optional
        Target column names to ClickHouse types (the live table's); by default the
        ``http_requests`` schema file.
    unknown : collections.Counter, optional
        Incremented by one per record for each field name that is not a column (see
        :func:`~workbench.ingest.common.count_unknown`).

    Returns
    -------
    rows : pyarrow.Table
        One row per good record, one column per accepted field.
    rejects : list of Reject
        Lines that are not JSON objects, lack ``EdgeStartTimestamp``, or have a field of the
        wrong type or out of range (the reason names the field).
    """
    fields = _fields(columns)
    values: dict[str, list] = {name: [] for name in fields}
    lines: list[int] = []
    rejects: list[Reject] = []
    unknown = unknown if unknown is not None else Counter()
    for number, text in records:
        row, problem = _parse_line(text, fields, unknown)
        if problem is not None:
            rejects.append(reject(number, problem, text))
            continue
        lines.append(number)
        for name, ct in fields.items():
            values[name].append(row[name] if name in row else _default(ct))
    if "RayID" in fields:
        generated = iter(record_ids(file_id, lines))
        values["RayID"] = [
            ray if ray else next_id for ray, next_id in zip(values["RayID"], generated, strict=True)
        ]
    arrays = {name: build_array(values[name], ct) for name, ct in fields.items()}
    return pa.table(arrays), rejects


def _default(ct: ColumnType):
    return convert(None, ct, strict=True)


def _parse_line(
    text: str, fields: dict[str, ColumnType], unknown: Counter
) -> tuple[dict, str | None]:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return {}, f"invalid JSON: {exc.msg} at column {exc.colno}"
    except RecursionError:
        return {}, "invalid JSON: nested too deeply"
    if not isinstance(obj, dict):
        return {}, f"not a JSON object (got a JSON {type(obj).__name__})"
    row: dict = {}
    for key, value in obj.items():
        ct = fields.get(key)
        if ct is None:
            count_unknown(unknown, key)
            continue
        try:
            row[key] = convert(value, ct, strict=True)
        except ValueError as exc:
            return {}, f"field {cut_text(key, 100)}: {exc}"
    for key in REQUIRED:
        if key in fields and obj.get(key) is None:
            return {}, f"field {key} is missing"
    return row, None
