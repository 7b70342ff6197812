"""Shared pieces of every ingest parser: rejects, row ids, timestamps, URIs, raw-text limits.

A parser turns records (``(line_number, text)`` pairs) into good rows and rejects; nothing it
cannot parse is dropped, it becomes a :class:`Reject` naming the line and the reason.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import pyarrow as pa

#: Raw text kept for a quarantined record, in UTF-8 bytes.
RAW_LIMIT = 64 * 1024
#: Distinct unknown field names tracked per file; further names count under OTHER_FIELDS.
MAX_UNKNOWN_NAMES = 200
OTHER_FIELDS = "(other field names)"
#: Arrow type of every timestamp column we produce (ClickHouse ``DateTime64(3, 'UTC')``).
TIMESTAMP = pa.timestamp("ms", tz="UTC")
#: ``DateTime64`` range, in milliseconds since the epoch: 1900-01-01 to 2299-12-31.
MIN_MS = -2_208_988_800_000
MAX_MS = 10_413_791_999_999

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,12}))?)?)?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))?"
)
_ABSOLUTE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)(.*)", re.S)

#: A record handed to a parser: its first line number (1-based) and its text.
Record = tuple[int, str]


class Reject(NamedTuple):
    """A record that could not be parsed, bound for the ``quarantine`` table.

    Attributes
    ----------
    line : int
        Line number (1-based) where the record starts; the row number for Parquet.
    reason : str
        Why it was rejected, naming the field or the expected shape.
    raw : str
        The record's text, cut at :data:`RAW_LIMIT` bytes.
    """

    line: int
    reason: str
    raw: str


def reject(line: int, reason: str, raw: str) -> Reject:
    """Build a :class:`Reject`, cutting the raw text at 64 KiB.

    Parameters
    ----------
    line : int
        Line number of the record.
    reason : str
        Why it was rejected.
    raw : str
        The record's text.

    Returns
    -------
    Reject
        The reject, with ``raw`` cut to :data:`RAW_LIMIT` UTF-8 bytes.
    """
    return Reject(line, cut_text(reason, 1000), cut_text(raw))


def count_unknown(counter: Counter, name: str, n: int = 1) -> None:
    """Count occurrences of a field the target table does not model.

    Names are cut at 100 characters and at most :data:`MAX_UNKNOWN_NAMES` distinct names
    are kept, so hostile input cannot grow the counter without bound.

    Parameters
    ----------
    counter : collections.Counter
        Field name to number of records that carried it.
    name : str
        The field name.
    n : int, default 1
        Number of records that carried it.
    """
    name = cut_text(name, 100)
    if name not in counter and len(counter) >= MAX_UNKNOWN_NAMES:
        name = OTHER_FIELDS
    counter[name] += n


def cut_text(text: str, limit: int = RAW_LIMIT) -> str:
    """Return ``text`` cut to at most ``limit`` UTF-8 bytes, never inside a character.

    Parameters
    ----------
    text : str
        Any text.
    limit : int, default RAW_LIMIT
        Byte budget.

    Returns
    -------
    str
        ``text`` itself when it fits, else its longest prefix that does.
    """
    if len(text) * 4 <= limit:
        return text
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "ignore")


def record_ids(file_id: str, lines: Iterable[int]) -> list[str]:
    """Deterministic 16-hex-digit row ids from a file's content hash and line numbers.

    Loading the same content again (or its ``.gz`` copy) gives the same ids, like the
    ``RayID`` Cloudflare puts on every request.

    Parameters
    ----------
    file_id : str
        The file's SHA-256 (any string identifying the content).
    lines : iterable of int
        Line (or row) numbers of the records.

    Returns
    -------
    list of str
        One id per line number.
    """
    prefix = file_id.encode("utf-8") + b":"
    return [hashlib.blake2b(prefix + str(n).encode(), digest_size=8).hexdigest() for n in lines]


def parse_timestamp(value: object, *, numeric_strings: bool = False) -> int:
    """Parse one timestamp into milliseconds since the epoch (UTC).

    Accepted: RFC 3339 / ISO 8601 strings (``2015-05-17T10:05:03Z``, fractions of any
    length, ``+02:00`` offsets; no offset means UTC), and numbers whose unit is detected from
    their size, per value: below 1e11 seconds, below 1e14 milliseconds, below 1e17
    microseconds, otherwise nanoseconds (Logpush ``unixnano`` values are about 1.7e18).

    Parameters
    ----------
    value : object
        A string, an int or a float. Booleans are not timestamps.
    numeric_strings : bool, default False
        Also accept numbers written as strings (``"1432029600"``), as CSV files have them.

    Returns
    -------
    int
        Milliseconds since 1970-01-01 UTC, within the ``DateTime64`` range.

    Raises
    ------
    ValueError
        With a short reason when the value is not a timestamp or is out of range.
    """
    if isinstance(value, str) and numeric_strings:
        text = value.strip()
        try:
            value = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                pass
            else:
                if not math.isfinite(number):
                    raise ValueError(f"{cut_text(text, 60)!r} is not a timestamp") from None
                value = number
    if isinstance(value, bool):
        raise ValueError("a boolean is not a timestamp")
    if isinstance(value, int):
        ms = _number_to_ms(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a timestamp")
        ms = _number_to_ms(value)
    elif isinstance(value, str):
        ms = _iso_to_ms(value)
    else:
        raise ValueError(f"expected a string or a number, got {type(value).__name__}")
    if not MIN_MS <= ms <= MAX_MS:
        raise ValueError(f"{cut_text(str(value), 60)!r} is outside 1900-2299")
    return ms


def _number_to_ms(value: int | float) -> int:
    size = abs(value)
    if size < 1e11:
        return round(value * 1000)
    if size < 1e14:
        return round(value)
    if size < 1e17:
        return int(value // 1000)
    return int(value // 1_000_000)


def _iso_to_ms(text: str) -> int:
    match = _ISO.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{cut_text(text, 60)!r} is not an RFC 3339 timestamp")
    year, month, day, hour, minute, second, frac, zulu, sign, off_h, off_m = match.groups()
    try:
        stamp = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
            tzinfo=UTC,
        )  # fmt: skip
    except ValueError:
        raise ValueError(f"{cut_text(text, 60)!r} is not a valid date and time") from None
    ms = (stamp - _EPOCH) // _MS + (int((frac + "00")[:3]) if frac else 0)
    if sign:
        if int(off_h) > 23 or int(off_m) > 59:
            raise ValueError(f"{cut_text(text, 60)!r} has an invalid UTC offset")
        offset = (int(off_h) * 60 + int(off_m)) * 60_000
        ms -= offset if sign == "+" else -offset
    return ms


def split_target(target: str) -> tuple[str, str, str, str, str]:
    """Split a request target into scheme, host, path, query and origin-form URI.

    Parameters
    ----------
    target : str
        ``/path?query`` (origin form) or ``http://host:port/path?query`` (absolute form, as
        proxies and the CSIC 2010 data set write it).

    Returns
    -------
    tuple of str
        ``(scheme, host, path, query, uri)``: scheme and host are empty for the origin form;
        the host keeps its port and drops any ``user@``; ``query`` has no leading ``?``;
        ``uri`` is path plus ``?query`` (what Logpush calls ``ClientRequestURI``).
    """
    scheme = host = ""
    rest = target
    match = _ABSOLUTE.fullmatch(target)
    if match is not None:
        scheme, authority, rest = match.group(1).lower(), match.group(2), match.group(3)
        host = authority.rpartition("@")[2]
        if not rest.startswith("/"):
            rest = "/" + rest if rest else "/"
    path, mark, query = rest.partition("?")
    return scheme, host, path, query, rest if mark else path


def strip_eol(text: str) -> str:
    r"""Remove one trailing ``\n`` or ``\r\n`` (nothing else) from a line.

    Parameters
    ----------
    text : str
        A line as read, with its terminator.

    Returns
    -------
    str
        The line without its terminator.
    """
    if text.endswith("\n"):
        return text[:-2] if text.endswith("\r\n") else text[:-1]
    return text


def timestamps(values: Sequence[int]) -> pa.Array:
    """Return epoch milliseconds as an Arrow ``timestamp[ms, UTC]`` array.

    Parameters
    ----------
    values : sequence of int
        Milliseconds since the epoch.

    Returns
    -------
    pyarrow.Array
        The timestamps.
    """
    return pa.array(values, type=pa.int64()).cast(TIMESTAMP)
