"""Request text for the character-level CNN: normalization and fixed-length byte ids.

A request becomes one line of text, ``METHOD path?query body user-agent header: value ...``,
which is normalized the way a WAF normalizes before matching:

1. ``+`` becomes a space (form encoding), once, before any percent-decoding;
2. ``%XX`` is percent-decoded, repeated while any ``%XX`` remains, at most 3 rounds
   (``%2527`` -> ``%27`` -> ``'``); a ``%`` not followed by two hex digits stays as it is;
3. HTML character references are decoded: numeric ones with or without the ``;``
   (``&#60``, ``&#x3c;``) and named ones that end with ``;`` (``&lt;``, ``&quot;``), so
   query strings such as ``&para=1`` are left alone;
4. optionally ASCII letters are lowercased;
5. optionally every run of ASCII digits becomes a single ``0``.

Everything runs on UTF-8 bytes, many texts at once: a chunk of 4,096 texts is one contiguous
buffer with offsets (Arrow's string layout), and each step is a handful of numpy passes over
that buffer, not a Python loop per character; chunks stay in the CPU cache and run on a few
threads (numpy and Arrow release the GIL). Step 3 calls :func:`html.unescape` only for the
rare ``&`` that may start a reference. No step ever reaches across two texts.

Byte ids: id 0 is padding; byte ``b`` has id ``b + 1`` (ids 1..256, so a NUL byte from
``%00`` is id 1 and never confused with padding). Texts are cut to ``max_len`` bytes
(keeping the start) or padded with 0 on the right. Decoding may produce bytes that are not
valid UTF-8 (``%ff``); the ids keep them exactly, while :func:`normalize` shows them as
U+FFFD.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench.errors import InputError

#: Id of the padding position.
PAD_ID = 0
#: Number of distinct ids: padding plus 256 byte values.
VOCAB_SIZE = 257
#: Default length of an encoded request, in bytes.
DEFAULT_MAX_LEN = 512
#: Percent-decoding rounds at most.
PERCENT_ROUNDS = 3
#: Request headers appended to the request text by default, in this order.
DEFAULT_HEADERS: tuple[str, ...] = (
    "accept",
    "accept-language",
    "accept-encoding",
    "content-type",
    "cookie",
)
#: ``http_requests`` columns the request text is built from (headers come from the map).
REQUIRED_COLUMNS = ("ClientRequestMethod", "ClientRequestPath")
OPTIONAL_COLUMNS = ("ClientRequestQuery", "RequestBody", "ClientRequestUserAgent")
HEADERS_COLUMN = "RequestHeaders"
#: Rows encoded together: their bytes stay in the CPU cache between numpy passes.
CHUNK_ROWS = 4096

_HEX = np.full(256, -1, dtype=np.int16)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _HEX[_c] = 10 + _i
_ENTITY = re.compile(rb"&(?:#[0-9]{1,7};?|#[xX][0-9a-fA-F]{1,6};?|[A-Za-z][A-Za-z0-9]{1,31};)")
_PERCENT, _PLUS, _SPACE, _AMP, _HASH, _SEMI = (ord(c) for c in "%+ &#;")
_ZERO = ord("0")


# -- the byte buffer -------------------------------------------------------------------------
def _as_arrow_strings(texts: Sequence[str] | pa.Array | pa.ChunkedArray, what: str) -> pa.Array:
    """Return ``texts`` as one ``large_string`` array (nulls become empty strings)."""
    if isinstance(texts, str | bytes):
        raise InputError(f"{what} must be a sequence of strings, not one string")
    try:
        if isinstance(texts, pa.ChunkedArray):
            arr = texts.combine_chunks() if texts.num_chunks else pa.array([], pa.string())
        elif isinstance(texts, pa.Array):
            arr = texts
        elif isinstance(texts, pd.Series | pd.Index):
            arr = pa.array(texts, from_pandas=True)  # no copy for Arrow-backed strings
        elif isinstance(texts, np.ndarray):
            arr = pa.array(texts.astype(object), type=pa.large_string(), from_pandas=True)
        else:
            arr = pa.array(list(texts), type=pa.large_string(), from_pandas=True)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        if pa.types.is_dictionary(arr.type):
            arr = arr.dictionary_decode()
        if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)
                or pa.types.is_null(arr.type)):  # fmt: skip
            raise InputError(f"{what} must contain only strings, not {arr.type}")
        arr = arr.cast(pa.large_string())
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
        raise InputError(f"{what} must contain only strings: {exc}") from None
    if arr.null_count:
        arr = pc.fill_null(arr, "")
    return arr


def _buffer(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Return the UTF-8 bytes of a ``large_string`` array and its ``N + 1`` offsets (from 0)."""
    _, off_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(off_buf, dtype=np.int64, count=len(arr) + 1, offset=arr.offset * 8)
    data = (
        np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.empty(0, np.uint8)
    )
    data = data[offsets[0] : offsets[-1]].copy()
    return data, offsets - offsets[0]


def _drop(data: np.ndarray, offsets: np.ndarray, drop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Remove the sorted byte positions ``drop`` and shift the offsets to match."""
    keep = np.ones(len(data), dtype=bool)
    keep[drop] = False
    return data[keep], offsets - np.searchsorted(drop, offsets, side="left")


def _row_starts(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Return a mask of length ``len(data) + 1``, true where a text starts (or the buffer ends)."""
    starts = np.zeros(len(data) + 1, dtype=bool)
    starts[offsets] = True
    return starts


def _percent_decode(data: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """Decode every ``%XX`` (hex) that lies inside one text; report whether any was found."""
    pct = np.flatnonzero(data[: max(len(data) - 2, 0)] == _PERCENT)
    if len(pct) == 0:
        return data, offsets, False
    hi, lo = _HEX[data[pct + 1]], _HEX[data[pct + 2]]
    ok = (hi >= 0) & (lo >= 0)
    starts = _row_starts(data, offsets)  # an escape must not run into the next text
    ok &= ~starts[pct + 1] & ~starts[pct + 2]
    pct, hi, lo = pct[ok], hi[ok], lo[ok]
    if len(pct) == 0:
        return data, offsets, False
    # Two escapes never overlap: a match occupies i..i+2 and i+1, i+2 are hex digits, not '%'.
    data[pct] = (hi * 16 + lo).astype(np.uint8)
    drop = np.empty(2 * len(pct), dtype=np.int64)
    drop[0::2], drop[1::2] = pct + 1, pct + 2
    data, offsets = _drop(data, offsets, drop)
    return data, offsets, True


def _unescape_entities(data: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decode HTML character references; Python sees only the ``&`` that may start one."""
    amp = np.flatnonzero(data == _AMP)
    if len(amp) == 0:
        return data, offsets
    # Candidates: '&#', or '&' with a ';' at most 33 bytes later (named references end in ';').
    after = np.minimum(amp + 1, len(data) - 1)
    semi = np.flatnonzero(data == _SEMI)
    next_semi = np.append(semi, np.iinfo(np.int64).max)[np.searchsorted(semi, amp)]
    cand = amp[(data[after] == _HASH) | (next_semi - amp <= 33)]
    if len(cand) == 0:
        return data, offsets
    buf = data.tobytes()
    ends = offsets[np.searchsorted(offsets, cand, side="right")]  # end of each candidate's text
    pieces: list[np.ndarray] = []
    removed = []  # (position, bytes removed) per decoded reference
    cursor = 0
    for start, end in zip(cand.tolist(), ends.tolist(), strict=True):
        if start < cursor:
            continue
        match = _ENTITY.match(buf, start, end)
        if match is None:
            continue
        decoded = html.unescape(match.group().decode("ascii")).encode()
        pieces.append(data[cursor:start])
        pieces.append(np.frombuffer(decoded, dtype=np.uint8))
        removed.append((start, len(match.group()) - len(decoded)))
        cursor = match.end()
    if not pieces:
        return data, offsets
    pieces.append(data[cursor:])
    where, delta = np.array(removed, dtype=np.int64).T
    shift = np.concatenate([[0], np.cumsum(delta)])[np.searchsorted(where, offsets, side="left")]
    return np.concatenate(pieces), offsets - shift


def _byte_table(lowercase: bool, zero_digits: bool) -> bytes:
    table = bytearray(range(256))
    if lowercase:
        table[ord("A") : ord("Z") + 1] = range(ord("a"), ord("z") + 1)
    if zero_digits:
        table[_ZERO : _ZERO + 10] = bytes([_ZERO]) * 10
    return bytes(table)


_TABLES = {
    (lower, zero): _byte_table(lower, zero) for lower in (False, True) for zero in (False, True)
}


def _map_bytes(data: np.ndarray, lowercase: bool, zero_digits: bool) -> np.ndarray:
    """Lowercase ASCII letters and/or turn ASCII digits into ``0`` (one C pass)."""
    if not (lowercase or zero_digits):
        return data
    mapped = data.tobytes().translate(_TABLES[lowercase, zero_digits])
    return np.frombuffer(mapped, dtype=np.uint8)


def _collapse_zeros(data: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep one ``0`` of each run of ``0`` inside a text (digits were all turned into ``0``)."""
    zero = data == _ZERO
    repeat = np.zeros_like(zero)
    np.logical_and(zero[1:], zero[:-1], out=repeat[1:])
    repeat[offsets[:-1][offsets[:-1] < len(data)]] = False  # a text never continues the last
    drop = np.flatnonzero(repeat)
    if len(drop) == 0:
        return data, offsets
    return _drop(data, offsets, drop)


def _normalize_buffer(
    data: np.ndarray, offsets: np.ndarray, lowercase: bool, collapse_digits: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Apply the normalization steps (module docstring) to a byte buffer with offsets."""
    np.copyto(data, np.uint8(_SPACE), where=data == _PLUS)
    for _ in range(PERCENT_ROUNDS):
        data, offsets, found = _percent_decode(data, offsets)
        if not found:
            break
    data, offsets = _unescape_entities(data, offsets)
    data = _map_bytes(data, lowercase, collapse_digits)
    if collapse_digits:
        data, offsets = _collapse_zeros(data, offsets)
    return data, offsets


def _to_ids(data: np.ndarray, offsets: np.ndarray, out: np.ndarray) -> None:
    """Write the texts into the zeroed ``(N, max_len)`` rows ``out``: byte + 1, cut or padded."""
    max_len = out.shape[1]
    lengths = np.diff(offsets)
    cut = np.flatnonzero(lengths > max_len)
    if len(cut):
        keep = np.ones(len(data), dtype=bool)
        for start, end in zip(
            (offsets[cut] + max_len).tolist(), offsets[cut + 1].tolist(), strict=True
        ):
            keep[start:end] = False  # the bytes past max_len of a long text
        data = data[keep]
        lengths = np.minimum(lengths, max_len)
    values = data.astype(np.int16)
    values += 1
    out[np.arange(max_len)[None, :] < lengths[:, None]] = values


def _check_max_len(max_len: int) -> int:
    if isinstance(max_len, bool) or not isinstance(max_len, int | np.integer) or max_len < 1:
        raise InputError(f"max_len must be a positive integer, got {max_len!r}")
    return int(max_len)


def _n_threads(n_threads: int | None) -> int:
    if n_threads is None:
        return max(1, min(len(os.sched_getaffinity(0)), 8))
    if isinstance(n_threads, bool) or not isinstance(n_threads, int) or n_threads < 1:
        raise InputError(f"n_threads must be a positive integer, got {n_threads!r}")
    return n_threads


def _encode_chunks(
    n: int,
    strings: Callable[[int, int], pa.Array],
    max_len: int,
    normalized: bool,
    lowercase: bool,
    collapse_digits: bool,
    n_threads: int | None,
) -> np.ndarray:
    """Encode rows ``0..n`` chunk by chunk (cache-sized), on a few threads, into one matrix.

    ``strings(start, stop)`` returns the text of rows ``start..stop`` as a ``large_string``
    array. numpy and Arrow release the GIL, so the chunks run in parallel.
    """
    ids = np.zeros((n, max_len), dtype=np.int16)

    def one(start: int) -> None:
        stop = min(start + CHUNK_ROWS, n)
        data, offsets = _buffer(strings(start, stop))
        if normalized:
            data, offsets = _normalize_buffer(data, offsets, lowercase, collapse_digits)
        _to_ids(data, offsets, ids[start:stop])

    starts = range(0, n, CHUNK_ROWS)
    threads = min(_n_threads(n_threads), len(starts))
    if threads <= 1:
        for start in starts:
            one(start)
    else:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="wb-encode") as pool:
            list(pool.map(one, starts))
    return ids


# -- plain texts -----------------------------------------------------------------------------
def normalize(
    texts: Sequence[str], lowercase: bool = True, collapse_digits: bool = True
) -> list[str]:
    """Normalize texts as the CNN sees them (percent- and HTML-decoding, case, digits).

    Parameters
    ----------
    texts : sequence of str
        Raw texts (payloads, request lines). ``None`` counts as an empty string.
    lowercase : bool, default True
        Lowercase ASCII letters.
    collapse_digits : bool, default True
        Replace each run of ASCII digits by one ``0``.

    Returns
    -------
    list of str
        The normalized texts; bytes that are not valid UTF-8 after decoding show as U+FFFD.

    Raises
    ------
    InputError
        When ``texts`` is a single string or holds something other than strings.
    """
    arr = _as_arrow_strings(texts, "texts")
    data, offsets = _normalize_buffer(*_buffer(arr), lowercase, collapse_digits)
    raw = data.tobytes()
    return [raw[a:b].decode("utf-8", "replace") for a, b in pairwise(offsets.tolist())]


def encode_texts(
    texts: Sequence[str],
    max_len: int = DEFAULT_MAX_LEN,
    lowercase: bool = True,
    collapse_digits: bool = True,
    normalized: bool = True,
    n_threads: int | None = None,
) -> np.ndarray:
    """Encode texts as fixed-length byte ids (0 = padding, byte ``b`` -> ``b + 1``).

    Parameters
    ----------
    texts : sequence of str
        Raw texts, for example HTTP parameter values. ``None`` counts as an empty string.
    max_len : int, default 512
        Length of each row; longer texts are cut (the start is kept).
    lowercase, collapse_digits : bool, default True
        Normalization options, as in :func:`normalize`.
    normalized : bool, default True
        Apply the normalization; ``False`` encodes the raw UTF-8 bytes.
    n_threads : int, optional
        Threads for large inputs (default: the CPUs this process may use, at most 8).
        The result does not depend on it.

    Returns
    -------
    numpy.ndarray
        ``int16`` array of shape ``(len(texts), max_len)`` with ids in ``0..256``.

    Raises
    ------
    InputError
        When ``texts`` is not a sequence of strings or ``max_len`` is not positive.
    """
    max_len = _check_max_len(max_len)
    arr = _as_arrow_strings(texts, "texts")
    return _encode_chunks(
        len(arr),
        lambda start, stop: arr.slice(start, stop - start),
        max_len,
        normalized,
        lowercase,
        collapse_digits,
        n_threads,
    )


def decode_ids(ids: np.ndarray) -> list[str]:
    """Turn rows of byte ids back into text (padding dropped), for display and explanations.

    Parameters
    ----------
    ids : numpy.ndarray
        ``(N, L)`` ids as returned by :func:`encode_texts`.

    Returns
    -------
    list of str
        One string per row; invalid UTF-8 shows as U+FFFD.

    Raises
    ------
    InputError
        When ``ids`` is not 2-D or holds ids outside ``0..256``.
    """
    ids = np.asarray(ids)
    if ids.ndim != 2:
        raise InputError(f"ids must be a 2-D array (rows, positions), got shape {ids.shape}")
    if ids.size and (ids.min() < 0 or ids.max() >= VOCAB_SIZE):
        raise InputError(f"ids must lie in 0..{VOCAB_SIZE - 1}")
    out = []
    for row in ids:
        row = row[row != PAD_ID]
        out.append((row - 1).astype(np.uint8).tobytes().decode("utf-8", "replace"))
    return out


# -- requests --------------------------------------------------------------------------------
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


def request_texts(frame_or_columns: Any, headers: Sequence[str] = DEFAULT_HEADERS) -> list[str]:
    """Return the raw (not normalized) request text of each ``http_requests`` row.

    Parameters
    ----------
    frame_or_columns : pandas.DataFrame, pyarrow.Table or mapping of column -> values
        Rows with ``http_requests`` columns. ``ClientRequestMethod`` and
        ``ClientRequestPath`` are required; ``ClientRequestQuery`` (with or without its
        ``?``), ``RequestBody``, ``ClientRequestUserAgent`` and ``RequestHeaders`` (a map)
        are used when present.
    headers : sequence of str, default DEFAULT_HEADERS
        Header names (case-insensitive) appended as ``name: value`` when present.

    Returns
    -------
    list of str
        ``METHOD path?query body user-agent name: value ...`` with empty parts left out.

    Raises
    ------
    InputError
        When a required column is missing or a column holds something other than text.
    """
    return _request_text(_request_columns(frame_or_columns), headers).to_pylist()


def encode_requests(
    frame_or_columns: Any,
    max_len: int = DEFAULT_MAX_LEN,
    headers: Sequence[str] = DEFAULT_HEADERS,
    lowercase: bool = True,
    collapse_digits: bool = True,
    n_threads: int | None = None,
) -> np.ndarray:
    """Encode ``http_requests`` rows as fixed-length byte ids of their normalized text.

    Parameters
    ----------
    frame_or_columns : pandas.DataFrame, pyarrow.Table or mapping of column -> values
        Rows with ``http_requests`` columns (see :func:`request_texts`).
    max_len : int, default 512
        Length of each row of ids; longer requests are cut (the start is kept).
    headers : sequence of str, default DEFAULT_HEADERS
        Header names appended to the text.
    lowercase, collapse_digits : bool, default True
        Normalization options, as in :func:`normalize`.
    n_threads : int, optional
        Threads for large inputs, as in :func:`encode_texts`.

    Returns
    -------
    numpy.ndarray
        ``int16`` array of shape ``(n_rows, max_len)`` with ids in ``0..256``.

    Raises
    ------
    InputError
        When a required column is missing or ``max_len`` is not positive.
    """
    max_len = _check_max_len(max_len)
    columns = _request_columns(frame_or_columns)
    return _encode_chunks(
        columns.num_rows,
        lambda start, stop: _request_text(columns.slice(start, stop - start), headers),
        max_len,
        True,
        lowercase,
        collapse_digits,
        n_threads,
    )


@dataclass(frozen=True)
class TextEncoder:
    """The encoding settings of a model, saved in its ``features.json``.

    Parameters
    ----------
    max_len : int, default 512
        Length of each row of ids.
    lowercase, collapse_digits : bool, default True
        Normalization options.
    headers : tuple of str, default DEFAULT_HEADERS
        Headers appended to request text.
    """

    max_len: int = DEFAULT_MAX_LEN
    lowercase: bool = True
    collapse_digits: bool = True
    headers: tuple[str, ...] = field(default=DEFAULT_HEADERS)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Encode plain texts with these settings (see :func:`encode_texts`)."""
        return encode_texts(
            texts, self.max_len, lowercase=self.lowercase, collapse_digits=self.collapse_digits
        )

    def encode_requests(self, frame_or_columns: Any) -> np.ndarray:
        """Encode ``http_requests`` rows with these settings (see :func:`encode_requests`)."""
        return encode_requests(
            frame_or_columns, self.max_len, self.headers, self.lowercase, self.collapse_digits
        )

    def normalize(self, texts: Sequence[str]) -> list[str]:
        """Normalize plain texts with these settings (see :func:`normalize`)."""
        return normalize(texts, self.lowercase, self.collapse_digits)

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as plain JSON-ready values."""
        out = asdict(self)
        out["headers"] = list(self.headers)
        out.update(pad_id=PAD_ID, vocab_size=VOCAB_SIZE, percent_rounds=PERCENT_ROUNDS)
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TextEncoder:
        """Rebuild the settings written by :meth:`to_dict`.

        Raises
        ------
        InputError
            When a setting is missing or the file describes another encoding.
        """
        try:
            if values.get("vocab_size", VOCAB_SIZE) != VOCAB_SIZE:
                raise InputError(f"text encoding has vocab_size {values['vocab_size']}")
            return cls(
                max_len=_check_max_len(values["max_len"]),
                lowercase=bool(values["lowercase"]),
                collapse_digits=bool(values["collapse_digits"]),
                headers=tuple(str(h) for h in values.get("headers", DEFAULT_HEADERS)),
            )
        except KeyError as exc:
            raise InputError(f"text encoding settings lack {exc.args[0]!r}") from None
