"""Times as people write them: ``now``, relative (``-24h``, ``now-30m``) or ISO 8601.

Report parameters, named-query parameters and command options all read times here, so a
window is written the same way everywhere; every result is an aware UTC ``datetime``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pandas as pd

from workbench.errors import InputError

_RELATIVE = re.compile(r"^(?:now)?\s*(?:([+-])\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w))?$", re.I)
_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time(value: str | dt.datetime, now: dt.datetime, name: str = "time") -> dt.datetime:
    """Resolve an absolute or relative time to an aware UTC datetime.

    Parameters
    ----------
    value : str or datetime
        ``now``, ``-24h`` / ``now-30m`` / ``+1d`` (units s, m, h, d, w), or ISO 8601 (naive
        values are UTC); a datetime is taken as it is (naive = UTC).
    now : datetime
        The reference for relative forms (aware, or naive UTC).
    name : str
        The parameter's name, for messages.

    Returns
    -------
    datetime
        Aware, in UTC.

    Raises
    ------
    InputError
        When the text is neither form.
    """
    now = _utc(now)
    if isinstance(value, dt.datetime):
        return _utc(value)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    text = str(value).strip()
    match = _RELATIVE.match(text) if text else None
    if match and (text.lower().startswith("now") or match.group(1)):
        sign, amount, unit = match.groups()
        if sign is None:
            return now
        delta = dt.timedelta(seconds=float(amount) * _UNITS[unit.lower()])
        return now + delta if sign == "+" else now - delta
    try:
        return _utc(dt.datetime.fromisoformat(text))
    except ValueError:
        raise InputError(
            f"parameter {name!r}: {text[:80]!r} is not a time; use now, a relative time such "
            "as -24h, -30m, -7d, or ISO 8601 such as 2026-11-01T00:00:00Z"
        ) from None


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def format_time(value: dt.datetime) -> str:
    """Format a datetime as ISO 8601 UTC with a ``Z`` (milliseconds only when non-zero).

    Parameters
    ----------
    value : datetime
        Aware or naive-UTC time.

    Returns
    -------
    str
        For example ``2026-11-01T06:00:00Z``.
    """
    value = _utc(value)
    spec = "milliseconds" if value.microsecond else "seconds"
    return value.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def time_window(
    start: str | dt.datetime, end: str | dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    """Resolve a window's bounds (see :func:`parse_time`) against one ``now``.

    Parameters
    ----------
    start, end : str or datetime
        Bounds: ``now``, relative (``-24h``) or ISO 8601; ``end`` is exclusive.

    Returns
    -------
    tuple of datetime
        ``(start, end)``, aware UTC.

    Raises
    ------
    InputError
        When a bound is not a time or ``start`` is not before ``end``.
    """
    now = dt.datetime.now(dt.UTC)
    first, last = parse_time(start, now, "start"), parse_time(end, now, "end")
    if first >= last:
        raise InputError(f"start ({format_time(first)}) must be before end ({format_time(last)})")
    return first, last


def format_stamp(value: Any) -> str | None:
    """Format a time read from the store with :func:`format_time`, or None when there is none.

    ``min``/``max`` over no rows give the epoch (or a missing value); both mean "no time".

    Parameters
    ----------
    value : datetime, pandas.Timestamp, numpy.datetime64 or None
        The time (naive values are UTC).

    Returns
    -------
    str or None
    """
    stamp = pd.Timestamp(value)
    if pd.isna(stamp) or stamp.value <= 0:
        return None
    return format_time(stamp.to_pydatetime())


def as_utc_times(column: pd.Series) -> pd.Series:
    """Return a column of times as aware UTC datetimes.

    ClickHouse ``DateTime`` values may arrive as epoch seconds, datetimes as naive or in
    another zone; all come back as ``datetime64[ns, UTC]``.

    Parameters
    ----------
    column : pandas.Series
        Datetimes or epoch seconds.

    Returns
    -------
    pandas.Series
    """
    if pd.api.types.is_datetime64_any_dtype(column):
        return column.dt.tz_localize("UTC") if column.dt.tz is None else column.dt.tz_convert("UTC")
    return pd.to_datetime(column.astype("int64"), unit="s", utc=True)
