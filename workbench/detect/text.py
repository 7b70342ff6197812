"""Small helpers that write alert reasons for a person: durations, counts, lists, clipping.

User names, devices and addresses come from attackers; reasons quote them clipped and with
control characters escaped, so that a reason is always one printable line. Renderers (HTML,
terminal) still escape what they show.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

#: Longest quoted value in a reason, characters.
MAX_QUOTED = 60


def clip(value: object, limit: int = MAX_QUOTED) -> str:
    r"""Return ``value`` as one printable line of at most ``limit`` characters.

    Control and other non-printable characters are written as escapes (``\x1b``, ``\n``).

    Parameters
    ----------
    value : object
        The value to quote (usually attacker-controlled text).
    limit : int, default 60
        Longest result, characters (an ellipsis marks a cut).

    Returns
    -------
    str
        A printable string.
    """
    text = str(value)
    if text == "":
        return '""'
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: max(limit - 1, 1)] + "…"


def plural(n: float, word: str, words: str | None = None) -> str:
    """Return ``"1 account"`` / ``"3 accounts"`` with thousands separators.

    Parameters
    ----------
    n : float
        The count.
    word : str
        Singular form.
    words : str, optional
        Plural form (default ``word + "s"``).

    Returns
    -------
    str
        The phrase.
    """
    count = int(n) if float(n).is_integer() else n
    form = word if count == 1 else (words or word + "s")
    return f"{count:,} {form}"


def duration(seconds: float) -> str:
    """Return a duration for a person: ``"43 seconds"``, ``"7 minutes"``, ``"2.5 hours"``.

    Parameters
    ----------
    seconds : float
        Length of time.

    Returns
    -------
    str
        The duration, rounded to a sensible unit.
    """
    s = max(float(seconds), 0.0)
    if s < 90:
        return plural(round(s), "second")
    if s < 90 * 60:
        return plural(round(s / 60), "minute")
    if s < 48 * 3600:
        hours = s / 3600
        return plural(round(hours, 1) if hours < 10 else round(hours), "hour")
    return plural(round(s / 86400, 1), "day")


def names(values: Iterable[object], limit: int = 3) -> str:
    """Return up to ``limit`` clipped names, then ``"and N more"``.

    Parameters
    ----------
    values : iterable
        Names (users, addresses).
    limit : int, default 3
        How many to list.

    Returns
    -------
    str
        For example ``"root, admin, ubnt and 4 more"``.
    """
    items = [clip(v, 40) for v in values]
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"


def when(ts: pd.Timestamp) -> str:
    """Return a UTC time for a reason: ``"2026-11-09 02:27 UTC"``."""
    return f"{pd.Timestamp(ts):%Y-%m-%d %H:%M} UTC"


def place(country: object, asn: object) -> str:
    """Return ``"RU, AS 49505"`` from what is known of a source ('' when nothing is)."""
    parts = []
    if country:
        parts.append(clip(country, 8))
    if asn and int(asn) != 0:
        parts.append(f"AS {int(asn)}")
    return ", ".join(parts)
