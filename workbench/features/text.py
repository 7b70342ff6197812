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

import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
import pyarrow as pa

from workbench.errors import InputError
from workbench.features.request_text import _request_columns, _request_text
from workbench.features.text_buffer import (
    PERCENT_ROUNDS,
    _as_arrow_strings,
    _buffer,
    _normalize_buffer,
    _to_ids,
)

#: Id of the padding position.
PAD_ID = 0
#: Number of distinct ids: padding plus 256 byte values.
VOCAB_SIZE = 257
#: Default length of an encoded request, in bytes.
DEFAULT_MAX_LEN = 512
#: Request headers appended to the request text by default, in this order.
DEFAULT_HEADERS: tuple[str, ...] = (
    "accept",
    "accept-language",
    "accept-encoding",
    "content-type",
    "cookie",
)
#: Rows encoded together: their bytes stay in the CPU cache between numpy passes.
CHUNK_ROWS = 4096


# -- chunked encoding ------------------------------------------------------------------------
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
