"""The raw request text of ``http_requests`` rows, built with Arrow kernels.

``METHOD path?query body user-agent name: value ...`` with empty parts left out; the columns
are checked and turned into Arrow strings and a header map with lowercased names first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench.errors import InputError
from workbench.features.text_buffer import _as_arrow_strings

#: ``http_requests`` columns the request text is built from (headers come from the map).
REQUIRED_COLUMNS = ("ClientRequestMethod", "ClientRequestPath")
OPTIONAL_COLUMNS = ("ClientRequestQuery", "RequestBody", "ClientRequestUserAgent")
HEADERS_COLUMN = "RequestHeaders"

_MAP = pa.map_(pa.string(), pa.string())


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _get(frame_or_columns: Any, name: str) -> Any:
    if isinstance(frame_or_columns, pa.Table):
        names = frame_or_columns.column_names
        return frame_or_columns.column(name) if name in names else None
    return frame_or_columns[name] if name in frame_or_columns else None


def _n_rows(frame_or_columns: Any) -> int:
    if isinstance(frame_or_columns, pa.Table):
        return frame_or_columns.num_rows
    if isinstance(frame_or_columns, pd.DataFrame):
        return len(frame_or_columns)
    if isinstance(frame_or_columns, Mapping):
        lengths = {len(v) for v in frame_or_columns.values()}
        if len(lengths) > 1:
            raise InputError(f"request columns have different lengths: {sorted(lengths)}")
        return lengths.pop() if lengths else 0
    raise InputError(
        "requests must be a pandas DataFrame, a pyarrow Table or a mapping of column name "
        f"to values, not {type(frame_or_columns).__name__}"
    )


def _headers_map(values: Any) -> pa.MapArray:
    """Return the ``RequestHeaders`` column as a map array with lowercased header names."""
    try:
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks() if values.num_chunks else pa.array([], _MAP)
        if isinstance(values, pa.Array) and pa.types.is_struct(values.type):
            values = values.to_pylist()  # dicts that Arrow inferred as a struct: rebuild a map
        if not isinstance(values, pa.Array):
            try:
                values = pa.array(values, type=_MAP, from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):  # NaN for a missing map
                values = pa.array([None if _is_missing(v) else v for v in values], type=_MAP)
        arr = values.cast(_MAP)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError) as exc:
        raise InputError(
            f"{HEADERS_COLUMN} must hold header maps (dicts or lists of (name, value)): {exc}"
        ) from None
    keys = pc.utf8_lower(arr.keys)
    return pa.MapArray.from_arrays(arr.offsets, keys, arr.items, mask=arr.is_null())


def _request_columns(frame_or_columns: Any) -> pa.Table:
    """Return the request columns the text is built from, as Arrow (strings and a header map).

    Missing optional columns become empty strings; header names are lowercased.
    """
    if isinstance(frame_or_columns, pa.RecordBatch):
        frame_or_columns = pa.Table.from_batches([frame_or_columns])
    n = _n_rows(frame_or_columns)
    missing = [c for c in REQUIRED_COLUMNS if _get(frame_or_columns, c) is None]
    if missing:
        raise InputError(
            f"request rows lack the column(s) {', '.join(missing)} (http_requests field names)"
        )
    columns = {}
    for name in REQUIRED_COLUMNS + OPTIONAL_COLUMNS:
        values = _get(frame_or_columns, name)
        if values is None:
            columns[name] = pa.array([""] * n, type=pa.large_string())
        else:
            columns[name] = _as_arrow_strings(values, f"column {name}")
    header_values = _get(frame_or_columns, HEADERS_COLUMN)
    if header_values is not None:
        columns[HEADERS_COLUMN] = _headers_map(header_values)
    return pa.table(columns)


def _request_text(columns: pa.Table, headers: Sequence[str]) -> pa.Array:
    """Join ``METHOD path?query body user-agent name: value ...``, leaving out empty parts.

    Few Arrow kernels whatever the number of parts: the non-empty parts of every row are
    gathered (``take``) into one list per row and joined with spaces (``binary_join``).
    """
    n = columns.num_rows
    large, empty = pa.large_string(), pa.scalar("", pa.large_string())

    def col(name: str) -> pa.Array:
        values = columns.column(name)
        return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values

    query = pc.replace_substring_regex(col("ClientRequestQuery"), r"^\?", "", max_replacements=1)
    query = pc.replace_substring_regex(query, "^(.)", r"?\1", max_replacements=1)
    target = pc.binary_join_element_wise(col("ClientRequestPath"), query, empty)
    pieces = [col("ClientRequestMethod"), target, col("RequestBody"), col("ClientRequestUserAgent")]
    pieces = [p.cast(large) for p in pieces]
    rows = np.arange(n, dtype=np.int64)
    candidates = [rows + i * n for i in range(len(pieces))]  # index into the concatenation
    present = [_lengths(p) > 0 for p in pieces]
    base = len(pieces) * n
    if headers and HEADERS_COLUMN in columns.column_names:
        header_map = col(HEADERS_COLUMN)
        offsets = np.asarray(header_map.offsets, dtype=np.int64)  # absolute in the children
        first, last = int(offsets[0]), int(offsets[-1])
        keys = header_map.keys.slice(first, last - first)
        items = header_map.items.slice(first, last - first).cast(large)
        entry_row = np.repeat(rows, np.diff(offsets))
        item_present = _lengths(items) > 0
        names = pa.array([f"{h.lower()}:" for h in headers], type=large)
        pieces += [items, names]
        for i, name in enumerate(headers):
            hit = np.flatnonzero(pc.equal(keys, name.lower()).to_numpy(zero_copy_only=False))
            hit_rows, first_hit = np.unique(entry_row[hit], return_index=True)
            entries = hit[first_hit]  # the first such header of each row
            value = np.zeros(n, dtype=np.int64)
            value[hit_rows] = base + entries
            has = np.zeros(n, dtype=bool)
            has[hit_rows] = item_present[entries]
            candidates += [np.full(n, base + len(items) + i, dtype=np.int64), value]
            present += [has, has]
    cand, mask = np.stack(candidates, axis=1), np.stack(present, axis=1)  # (n, parts)
    values = pc.take(pa.concat_arrays(pieces), pa.array(cand[mask]))
    list_offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(mask.sum(axis=1), out=list_offsets[1:])
    lists = pa.ListArray.from_arrays(pa.array(list_offsets), values)
    return pc.binary_join(lists, pa.scalar(" ", large)).cast(large)


def _lengths(arr: pa.Array) -> np.ndarray:
    """Byte length of each string of an Arrow string array (nulls count as 0)."""
    return pc.fill_null(pc.binary_length(arr), 0).to_numpy(zero_copy_only=False)
