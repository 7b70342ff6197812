"""Times as people write them: ``now``, relative (``-24h``, ``now-30m``) or ISO 8601.

Report parameters, named-query parameters and command options all read times here, so a
window is written the same way everywhere; every result is an aware UTC ``datetime``.
"""

from __future__ import annotations

import datetime as dt
import re

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
