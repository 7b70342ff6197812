"""Vectorized array helpers for the generators: segments, sampling, string building.

Everything here works on whole columns (numpy arrays, pyarrow string arrays); nothing loops
over rows in Python.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
# two hex digits of each byte value, packed so that a uint16 view reads them in order
_HEX_PAIRS = (
    np.repeat(_HEX, 16).astype(np.uint16) | (np.tile(_HEX, 16).astype(np.uint16) << 8)
).astype("<u2")
_LOWER = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789", dtype=np.uint8)
_OCTETS = pa.array([str(i) for i in range(256)])
_DIGITS = pa.array([str(i) for i in range(100_000)])


def seg_arange(counts: np.ndarray) -> np.ndarray:
    """Return ``0..c-1`` for each count, concatenated (position within each segment).

    Parameters
    ----------
    counts : numpy.ndarray
        Non-negative segment lengths.

    Returns
    -------
    numpy.ndarray
        ``int64`` array of length ``counts.sum()``.
    """
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    starts = np.cumsum(counts) - counts
    return np.arange(total, dtype=np.int64) - np.repeat(starts, counts)


def seg_cumsum(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Cumulative sum of ``values`` restarting at each segment.

    Parameters
    ----------
    values : numpy.ndarray
        One value per element, segments laid out one after another.
    counts : numpy.ndarray
        Segment lengths (summing to ``len(values)``).

    Returns
    -------
    numpy.ndarray
        Inclusive running sums within each segment.
    """
    values = np.asarray(values)
    counts = np.asarray(counts, dtype=np.int64)
    total = np.cumsum(values)
    starts = np.cumsum(counts) - counts
    before = np.concatenate([np.zeros(1, dtype=total.dtype), total])[starts]
    return total - np.repeat(before, counts)


def seg_max(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Maximum of each non-empty segment of ``values`` (``-inf`` style minimum for empty ones).

    Parameters
    ----------
    values : numpy.ndarray
        Values laid out segment after segment.
    counts : numpy.ndarray
        Segment lengths.

    Returns
    -------
    numpy.ndarray
        One maximum per segment; empty segments get the dtype's minimum.
    """
    counts = np.asarray(counts, dtype=np.int64)
    out = np.full(len(counts), np.iinfo(values.dtype).min if values.dtype.kind == "i" else -np.inf)
    nonempty = counts > 0
    if nonempty.any():
        starts = (np.cumsum(counts) - counts)[nonempty]
        out[nonempty] = np.maximum.reduceat(values, starts)
    return out.astype(values.dtype)


def choice(rng: np.random.Generator, weights: Sequence[float] | np.ndarray, n: int) -> np.ndarray:
    """Draw ``n`` indices with the given (unnormalized) weights.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random source.
    weights : sequence of float
        Non-negative weights, at least one positive.
    n : int
        Number of draws.

    Returns
    -------
    numpy.ndarray
        ``int64`` indices into ``weights``.
    """
    w = np.asarray(weights, dtype=np.float64)
    cdf = np.cumsum(w)
    idx = np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right")
    return np.minimum(idx, len(w) - 1)


def row_choice(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """Draw one index per row of a 2-D weight matrix (each row its own distribution).

    Parameters
    ----------
    rng : numpy.random.Generator
        Random source.
    weights : numpy.ndarray
        ``(n, k)`` non-negative weights, each row with a positive sum.

    Returns
    -------
    numpy.ndarray
        ``n`` indices in ``[0, k)``.
    """
    cdf = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * cdf[:, -1]
    return np.minimum((cdf < u[:, None]).sum(axis=1), weights.shape[1] - 1)


def join(*parts: pa.Array | str) -> pa.Array:
    """Concatenate string arrays (and scalar strings) element-wise.

    Parameters
    ----------
    *parts : pyarrow.Array or str
        Equal-length string arrays, or plain strings repeated on every row.

    Returns
    -------
    pyarrow.StringArray
        The joined strings.
    """
    return pc.binary_join_element_wise(*parts, "")


def take(pool: pa.Array | Sequence[str], idx: np.ndarray) -> pa.Array:
    """Pick strings from a pool by index.

    Parameters
    ----------
    pool : pyarrow.Array or sequence of str
        The candidate strings.
    idx : numpy.ndarray
        Indices into the pool.

    Returns
    -------
    pyarrow.StringArray
        ``pool[idx]``.
    """
    if not isinstance(pool, pa.Array):
        pool = pa.array(list(pool), type=pa.string())
    return pool.take(pa.array(np.asarray(idx, dtype=np.int64)))


def scatter(n: int, parts: Sequence[tuple[np.ndarray, pa.Array]], fill: str = "") -> pa.Array:
    """Assemble one string column from pieces computed for disjoint row subsets.

    Parameters
    ----------
    n : int
        Rows in the result.
    parts : sequence of (numpy.ndarray, pyarrow.Array)
        Row indices and the strings for those rows; rows named by no part get ``fill``.
    fill : str, default ''
        Value of the rows no part covers.

    Returns
    -------
    pyarrow.StringArray
        ``n`` strings.
    """
    source = np.full(n, -1, dtype=np.int64)
    arrays, offset = [], 0
    for rows, values in parts:
        if len(rows) != len(values):
            raise ValueError(f"scatter: {len(rows)} rows but {len(values)} values")
        source[rows] = offset + np.arange(len(rows))
        arrays.append(values.cast(pa.string()))
        offset += len(rows)
    arrays.append(pa.array([fill], type=pa.string()))
    source[source < 0] = offset
    return pa.concat_arrays(arrays).take(pa.array(source))


def digits(values: np.ndarray) -> pa.Array:
    """Decimal strings of non-negative integers (fast path below 100,000).

    Parameters
    ----------
    values : numpy.ndarray
        Non-negative integers.

    Returns
    -------
    pyarrow.StringArray
        The numbers written in base 10.
    """
    values = np.asarray(values, dtype=np.int64)
    if len(values) == 0 or values.max() < len(_DIGITS):
        return _DIGITS.take(pa.array(values))
    return pc.cast(pa.array(values), pa.string())


def tokens(rng: np.random.Generator, n: int, length: int, alphabet: str = "") -> pa.Array:
    """Random fixed-length tokens (lowercase letters and digits unless ``alphabet`` is given).

    Parameters
    ----------
    rng : numpy.random.Generator
        Random source.
    n : int
        Number of tokens.
    length : int
        Characters per token.
    alphabet : str, optional
        ASCII characters to draw from.

    Returns
    -------
    pyarrow.StringArray
        ``n`` tokens.
    """
    chars = np.frombuffer(alphabet.encode("ascii"), dtype=np.uint8) if alphabet else _LOWER
    raw = chars[rng.integers(0, len(chars), size=(n, length))]
    return fixed_width_strings(raw)


def fixed_width_strings(raw: np.ndarray) -> pa.Array:
    """Turn an ``(n, w)`` ``uint8`` matrix of ASCII codes into ``n`` strings of width ``w``.

    Parameters
    ----------
    raw : numpy.ndarray
        ASCII byte matrix.

    Returns
    -------
    pyarrow.StringArray
        One string per row.
    """
    n, width = raw.shape
    data = np.ascontiguousarray(raw, dtype=np.uint8).tobytes()
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data))


def hex64(values: np.ndarray) -> pa.Array:
    """Write unsigned 64-bit integers as 16 lowercase hex digits.

    Parameters
    ----------
    values : numpy.ndarray
        ``uint64`` values.

    Returns
    -------
    pyarrow.StringArray
        Zero-padded hex strings.
    """
    big_endian = np.asarray(values, dtype=np.uint64).astype(">u8").view(np.uint8)
    pairs = _HEX_PAIRS[big_endian.reshape(-1, 8)]
    return fixed_width_strings(pairs.view(np.uint8).reshape(-1, 16))


def mix64(values: np.ndarray, key: int) -> np.ndarray:
    """Bijective 64-bit mixing (splitmix64 finaliser) of ``values`` keyed by ``key``.

    Distinct inputs give distinct outputs, so mixed counters make unique random-looking ids.

    Parameters
    ----------
    values : numpy.ndarray
        Integers (taken modulo 2**64).
    key : int
        Mixed in before the finaliser.

    Returns
    -------
    numpy.ndarray
        ``uint64`` mixed values.
    """
    with np.errstate(over="ignore"):
        z = np.asarray(values, dtype=np.uint64) ^ np.uint64(key % 2**64)
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def ipv4(values: np.ndarray) -> pa.Array:
    """Dotted-quad strings of IPv4 addresses given as integers.

    Parameters
    ----------
    values : numpy.ndarray
        Addresses as unsigned 32-bit integers.

    Returns
    -------
    pyarrow.StringArray
        ``a.b.c.d`` strings.
    """
    v = np.asarray(values, dtype=np.uint32)
    octets = [_OCTETS.take(pa.array(((v >> s) & 255).astype(np.int64))) for s in (24, 16, 8, 0)]
    return pc.binary_join_element_wise(*octets, ".")


def url_encode(values: pa.Array, chars: str) -> pa.Array:
    """Percent-encode the given characters (``%`` first if listed, so nothing is doubled).

    Parameters
    ----------
    values : pyarrow.StringArray
        Strings to encode.
    chars : str
        Characters to replace by ``%XX``.

    Returns
    -------
    pyarrow.StringArray
        Encoded strings.
    """
    if "%" in chars:
        values = pc.replace_substring(values, "%", "%25")
    for ch in chars:
        if ch != "%":
            values = pc.replace_substring(values, ch, f"%{ord(ch):02X}")
    return values


def where(mask: np.ndarray, yes: pa.Array, no: pa.Array) -> pa.Array:
    """Element-wise ``yes if mask else no`` for string arrays.

    Parameters
    ----------
    mask : numpy.ndarray
        Boolean selector.
    yes, no : pyarrow.Array
        Equal-length arrays.

    Returns
    -------
    pyarrow.Array
        The merged array.
    """
    return pc.if_else(pa.array(np.asarray(mask, dtype=bool)), yes, no)


def lengths(values: pa.Array) -> np.ndarray:
    """Byte lengths of strings as an ``int64`` numpy array.

    Parameters
    ----------
    values : pyarrow.StringArray
        Strings (no nulls).

    Returns
    -------
    numpy.ndarray
        UTF-8 byte length of each string.
    """
    return np.asarray(pc.binary_length(values).to_numpy(zero_copy_only=False), dtype=np.int64)
