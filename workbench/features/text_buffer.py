"""Normalization and byte ids of a chunk of texts held as one UTF-8 buffer with offsets.

The steps of :mod:`workbench.features.text`, each a handful of numpy passes over the buffer
(Arrow's string layout), never reaching across two texts: ``+`` to space, percent-decoding,
HTML character references, byte mapping (case, digits), then ids written into fixed-length
rows. Inputs are first made one Arrow ``large_string`` array, whose bytes are the buffer.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench.errors import InputError

#: Percent-decoding rounds at most.
PERCENT_ROUNDS = 3

_HEX = np.full(256, -1, dtype=np.int16)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _HEX[_c] = 10 + _i
_ENTITY = re.compile(rb"&(?:#[0-9]{1,7};?|#[xX][0-9a-fA-F]{1,6};?|[A-Za-z][A-Za-z0-9]{1,31};)")
_PERCENT, _PLUS, _SPACE, _AMP, _HASH, _SEMI = (ord(c) for c in "%+ &#;")
_ZERO = ord("0")


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
    """Apply the normalization steps (:mod:`workbench.features.text`) to a byte buffer."""
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
