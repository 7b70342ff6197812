"""The time windows detection runs over: a detection window and the reference window before it.

Per-user baselines (countries, networks, devices, sign-in hours) are learned on the reference
window ``[baseline_start, baseline_end)``; detectors report on ``[start, end)``. Without
explicit times the detection window is the data after the first ``baseline_days`` days of
``auth_events``, so a freshly loaded data set has a reference week and a detection period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from workbench.errors import InputError
from workbench.store.base import Store

#: Default length of the reference window, days.
BASELINE_DAYS = 7.0
#: Default look-back for "last seen" questions (dormant accounts), days.
HISTORY_DAYS = 90.0
_MS = pd.Timedelta(milliseconds=1)


def parse_time(value: datetime | str | pd.Timestamp, name: str) -> pd.Timestamp:
    """Return ``value`` as a UTC timestamp (a naive value is taken as UTC).

    Parameters
    ----------
    value : datetime, str or pandas.Timestamp
        A date or time, for example ``"2026-11-08"`` or ``"2026-11-08T06:00:00Z"``.
    name : str
        Argument name, for the error message.

    Returns
    -------
    pandas.Timestamp
        Timezone-aware (UTC), millisecond precision.

    Raises
    ------
    InputError
        When ``value`` is not a date or time.
    """
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        raise InputError(f"{name}={value!r} is not a date or time (use ISO 8601)") from None
    if ts is pd.NaT:
        raise InputError(f"{name} must be a date or time, got {value!r}")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.floor("ms")


@dataclass(frozen=True)
class DetectionWindow:
    """Where detectors look and what they compare against.

    Attributes
    ----------
    start, end : pandas.Timestamp
        Detection window ``[start, end)``, UTC.
    baseline_start, baseline_end : pandas.Timestamp
        Reference window ``[baseline_start, baseline_end)``; ``baseline_end <= start``.
        Empty (equal bounds) when there is no reference period.
    history_start : pandas.Timestamp
        How far back "last seen" questions look (dormant accounts).
    """

    start: pd.Timestamp
    end: pd.Timestamp
    baseline_start: pd.Timestamp
    baseline_end: pd.Timestamp
    history_start: pd.Timestamp

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise InputError(f"window start {self.start} must be before its end {self.end}")
        if not self.baseline_start <= self.baseline_end <= self.start:
            raise InputError(
                f"reference window [{self.baseline_start}, {self.baseline_end}) must end by "
                f"the detection window's start {self.start}"
            )
        if self.history_start > self.baseline_start:
            raise InputError("history must start no later than the reference window")

    @property
    def baseline_days(self) -> float:
        """Length of the reference window in days."""
        return (self.baseline_end - self.baseline_start) / pd.Timedelta(days=1)

    def parameters(self) -> dict[str, Any]:
        """Return the window bounds as query parameters (bind as ``DateTime64(3)``).

        Returns
        -------
        dict
            ``start``, ``end``, ``baseline_start``, ``baseline_end``, ``history_start``.
        """
        return {
            "start": self.start.to_pydatetime(),
            "end": self.end.to_pydatetime(),
            "baseline_start": self.baseline_start.to_pydatetime(),
            "baseline_end": self.baseline_end.to_pydatetime(),
            "history_start": self.history_start.to_pydatetime(),
        }

    def describe(self) -> str:
        """Say which periods are compared, for messages."""
        fmt = "%Y-%m-%d %H:%M"
        base = (
            f"reference {self.baseline_start:{fmt}} to {self.baseline_end:{fmt}} UTC"
            if self.baseline_days > 0
            else "no reference period"
        )
        return f"{self.start:{fmt}} to {self.end:{fmt}} UTC ({base})"


def make_window(
    start: datetime | str | pd.Timestamp,
    end: datetime | str | pd.Timestamp,
    baseline_days: float = BASELINE_DAYS,
    history_days: float = HISTORY_DAYS,
) -> DetectionWindow:
    """Build a window from explicit bounds; the reference window ends at ``start``.

    Parameters
    ----------
    start, end : datetime, str or pandas.Timestamp
        Detection window ``[start, end)``.
    baseline_days : float, default 7
        Length of the reference window just before ``start`` (0 for none).
    history_days : float, default 90
        Look-back for "last seen" questions; at least ``baseline_days``.

    Returns
    -------
    DetectionWindow
        The window.

    Raises
    ------
    InputError
        When a bound is not a time, ``start >= end`` or a length is negative.
    """
    for name, days in (("baseline_days", baseline_days), ("history_days", history_days)):
        if isinstance(days, bool) or not isinstance(days, int | float) or not 0 <= days <= 3650:
            raise InputError(f"{name} must be a number of days from 0 to 3650, got {days!r}")
    t0, t1 = parse_time(start, "start"), parse_time(end, "end")
    base = t0 - pd.Timedelta(days=baseline_days)
    history = t0 - pd.Timedelta(days=max(history_days, baseline_days))
    return DetectionWindow(t0, t1, base.floor("ms"), t0, history.floor("ms"))


def resolve_window(
    store: Store,
    start: datetime | str | pd.Timestamp | None = None,
    end: datetime | str | pd.Timestamp | None = None,
    baseline_days: float = BASELINE_DAYS,
    history_days: float = HISTORY_DAYS,
) -> DetectionWindow:
    """Build the detection window, filling missing bounds from the data in ``auth_events``.

    Parameters
    ----------
    store : Store
        Where ``auth_events`` lives.
    start : datetime, str or pandas.Timestamp, optional
        Detection start; default ``baseline_days`` after the first event (or the first event
        when the data is shorter than that).
    end : datetime, str or pandas.Timestamp, optional
        Detection end (exclusive); default just after the last event.
    baseline_days : float, default 7
        Length of the reference window before ``start``.
    history_days : float, default 90
        Look-back for "last seen" questions.

    Returns
    -------
    DetectionWindow
        The resolved window.

    Raises
    ------
    InputError
        When a bound is missing and ``auth_events`` is empty, or the bounds are invalid.
    """
    if start is None or end is None:
        span = store.query_df(
            "SELECT count() AS n, min(EventTime) AS first, max(EventTime) AS last FROM auth_events"
        )
        if int(span["n"].iloc[0]) == 0:
            raise InputError(
                "auth_events is empty: load events first (wb synth auth, or wb ingest auth-log) "
                "or give both --start and --end"
            )
        first = pd.Timestamp(span["first"].iloc[0])
        last = pd.Timestamp(span["last"].iloc[0])
        if end is None:
            end = last + _MS
        if start is None:
            start = first.floor("D") + pd.Timedelta(days=baseline_days)
            if start >= last:
                start = first
    return make_window(start, end, baseline_days, history_days)
