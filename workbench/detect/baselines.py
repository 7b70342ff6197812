"""Per-user baselines over the reference window and the rarity of each sign-in against them.

A baseline says what is usual for one account: its countries, networks (ASNs), devices, the
hours (UTC) it signs in at and its share of successful attempts. Rarity measures how
surprising one sign-in is for its user, in bits: ``-log2((k + 1) / (n + 2))`` where ``n`` is
the user's reference sign-ins and ``k`` how many of them shared the value (the same country,
network, device, or an hour within one hour of it). A value never seen in 40 sign-ins scores
about 5.4 bits; one seen in half of them about 1 bit. Both run as one ClickHouse query each;
only per-user (or per-sign-in, for one user) rows come back.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.detect.sql import FAILURE_WEIGHT, IN_BASELINE, IN_WINDOW, IS_LOGIN
from workbench.detect.window import DetectionWindow
from workbench.errors import InputError
from workbench.store.base import Store

_BASELINES = f"""
SELECT
    User,
    Department,
    logins,
    failures,
    logins / greatest(logins + failures, 1) AS success_ratio,
    active_days,
    countries,
    asns,
    devices,
    source_ips,
    arrayMap(h -> toUInt32(countEqual(hours, h)), range(24)) AS hour_counts,
    first_seen,
    last_seen
FROM
(
    SELECT
        User,
        any(Department) AS Department,
        countIf(EventType = 'login_success') AS logins,
        sum({FAILURE_WEIGHT}) AS failures,
        uniqExactIf(toDate(EventTime), EventType = 'login_success') AS active_days,
        arraySort(groupUniqArrayIf(toString(SourceCountry),
                                   EventType = 'login_success' AND SourceCountry != '')) AS countries,
        arraySort(groupUniqArrayIf(SourceASN, EventType = 'login_success' AND SourceASN != 0)) AS asns,
        arraySort(groupUniqArrayIf(100)(Device, EventType = 'login_success' AND Device != '')) AS devices,
        arraySort(groupUniqArrayIf(100)(SourceIP, EventType = 'login_success' AND SourceIP != '')) AS source_ips,
        groupArrayIf(toUInt8(toHour(EventTime)), EventType = 'login_success') AS hours,
        min(EventTime) AS first_seen,
        max(EventTime) AS last_seen
    FROM auth_events
    WHERE {IN_BASELINE} AND User != ''
    GROUP BY User
)
ORDER BY User
"""  # noqa: S608 - constant fragments only; values are bound

_RARITY = f"""
WITH base AS
(
    SELECT User, SourceCountry, SourceASN, Device, toUInt8(toHour(EventTime)) AS hour
    FROM auth_events
    WHERE {IS_LOGIN} AND {IN_BASELINE}
)
SELECT
    e.User AS User,
    e.EventTime AS EventTime,
    e.EventID AS EventID,
    e.Service AS Service,
    e.SourceIP AS SourceIP,
    e.SourceCountry AS SourceCountry,
    e.SourceASN AS SourceASN,
    e.Device AS Device,
    toUInt8(toHour(e.EventTime)) AS hour,
    b.n AS baseline_logins,
    c.k AS same_country,
    a.k AS same_asn,
    d.k AS same_device,
    toUInt64(arrayCount(x -> least(abs(toInt16(x) - toInt16(hour)),
                                  24 - abs(toInt16(x) - toInt16(hour))) <= 1, b.hours)) AS same_hour,
    -log2((same_country + 1) / (baseline_logins + 2)) AS country_rarity,
    -log2((same_asn + 1) / (baseline_logins + 2)) AS asn_rarity,
    -log2((same_device + 1) / (baseline_logins + 2)) AS device_rarity,
    -log2((same_hour + 1) / (baseline_logins + 2)) AS hour_rarity,
    greatest(country_rarity, asn_rarity, device_rarity, hour_rarity) AS rarity
FROM
(
    SELECT *
    FROM auth_events
    WHERE {IS_LOGIN} AND {IN_WINDOW} AND ({{user:String}} = '' OR User = {{user:String}})
) AS e
LEFT JOIN (SELECT User, count() AS n, groupArray(hour) AS hours FROM base GROUP BY User) AS b
    ON e.User = b.User
LEFT JOIN (SELECT User, SourceCountry, count() AS k FROM base GROUP BY User, SourceCountry) AS c
    ON e.User = c.User AND e.SourceCountry = c.SourceCountry
LEFT JOIN (SELECT User, SourceASN, count() AS k FROM base GROUP BY User, SourceASN) AS a
    ON e.User = a.User AND e.SourceASN = a.SourceASN
LEFT JOIN (SELECT User, Device, count() AS k FROM base GROUP BY User, Device) AS d
    ON e.User = d.User AND e.Device = d.Device
ORDER BY EventTime, EventID
LIMIT {{limit:UInt64}}
"""  # noqa: S608 - constant fragments only; values are bound


def build_baselines(store: Store, window: DetectionWindow) -> pd.DataFrame:
    """Summarise each account's reference window: where, from what, when, how successfully.

    Parameters
    ----------
    store : Store
        Where ``auth_events`` lives.
    window : DetectionWindow
        Its reference window ``[baseline_start, baseline_end)`` is summarised.

    Returns
    -------
    pandas.DataFrame
        One row per account seen in the reference window: ``User``, ``Department``,
        ``logins`` (successful sign-ins), ``failures`` (failed passwords, syslog repeats
        counted), ``success_ratio``, ``active_days``, ``countries``, ``asns``, ``devices``,
        ``source_ips`` (sorted arrays, at most 100 devices and addresses), ``hour_counts``
        (24 sign-in counts by UTC hour), ``first_seen``, ``last_seen``.
    """
    return store.query_df(_BASELINES, window.parameters())


def usual_hours(hour_counts: np.ndarray | list[int], coverage: float = 0.9) -> tuple[int, int]:
    """Return the shortest run of UTC hours holding ``coverage`` of a user's sign-ins.

    Hours wrap around midnight: ``(22, 6)`` means 22:00 to 06:59.

    Parameters
    ----------
    hour_counts : array-like of 24 ints
        Sign-ins per UTC hour (``hour_counts`` of :func:`build_baselines`).
    coverage : float, default 0.9
        Share of sign-ins the run must hold.

    Returns
    -------
    tuple of int
        First and last hour of the run.

    Raises
    ------
    InputError
        When there are not 24 counts, or no sign-in at all.
    """
    counts = np.asarray(hour_counts, dtype=np.float64)
    if counts.shape != (24,):
        raise InputError(f"expected 24 hourly counts, got shape {counts.shape}")
    total = counts.sum()
    if total <= 0:
        raise InputError("no sign-ins to take usual hours from")
    doubled = np.concatenate([counts, counts])
    for length in range(1, 25):
        sums = np.convolve(doubled, np.ones(length), "valid")[:24]
        first = int(np.argmax(sums))
        if sums[first] >= coverage * total - 1e-9:
            return first, (first + length - 1) % 24
    return 0, 23  # unreachable: 24 hours hold everything


def event_rarity(
    store: Store, window: DetectionWindow, user: str | None = None, limit: int = 100_000
) -> pd.DataFrame:
    """Score how unusual each successful sign-in in the window is for its user.

    Parameters
    ----------
    store : Store
        Where ``auth_events`` lives.
    window : DetectionWindow
        Sign-ins in ``[start, end)`` are scored against the reference window.
    user : str, optional
        Only this account (bound as a parameter).
    limit : int, default 100000
        At most this many sign-ins, earliest first.

    Returns
    -------
    pandas.DataFrame
        One row per sign-in: who, when, where from, ``baseline_logins``, the counts of
        reference sign-ins sharing its country, ASN, device and hour (±1), the rarity of
        each in bits and ``rarity``, their maximum. An account with no reference sign-ins
        gets ``-log2(1/2) = 1`` bit for everything: no baseline, no surprise measurable.

    Raises
    ------
    InputError
        When ``limit`` is not a positive integer.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
        raise InputError(f"limit must be a positive integer, got {limit!r}")
    params = {**window.parameters(), "user": user or "", "limit": limit}
    return store.query_df(_RARITY, params)
