"""Novelty detectors: first-seen country, network or device; off-hours sign-ins; dormant accounts.

All compare an account with itself. First-seen and off-hours need a baseline: accounts with
fewer than ``min_baseline_logins`` successful sign-ins in the reference window are skipped
(nothing is "new" for an account we know nothing about). Dormancy looks back over the
history window for the account's previous successful sign-in.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.detect.alerts import alert_frame, user_alert
from workbench.detect.baselines import usual_hours
from workbench.detect.sql import IN_BASELINE, IN_WINDOW, IS_LOGIN, TRUTH
from workbench.detect.text import clip, duration, place, plural, when
from workbench.detect.window import DetectionWindow
from workbench.errors import InputError
from workbench.store.base import Store

#: What a first-seen alert is about: detector name, display noun, base score.
FIRST_SEEN = {
    "country": ("first_seen_country", "country", 55.0),
    "asn": ("first_seen_asn", "network", 35.0),
    "device": ("first_seen_device", "device", 30.0),
}
#: Taken off a new country or network score when the sign-in came from a device the account
#: used before (a trip with one's own laptop, not a stranger with the password).
KNOWN_DEVICE_DISCOUNT = 25.0
#: Added to a first-seen score when a password reset came shortly before.
RESET_BONUS = 30.0

_ATTRIBUTES = (
    "arrayJoin([('country', toString(SourceCountry)), ('asn', toString(SourceASN)), "
    "('device', Device)])"
)
_FIRST_SEEN = f"""
WITH base AS
(
    SELECT User, {_ATTRIBUTES} AS kv
    FROM auth_events
    WHERE {IS_LOGIN} AND {IN_BASELINE}
),
known AS
(
    SELECT User, count() / 3 AS logins FROM base GROUP BY User
    HAVING logins >= {{min_baseline_logins:UInt32}}
)
SELECT
    User,
    kv.1 AS kind,
    kv.2 AS value,
    min(EventTime) AS first_time,
    max(EventTime) AS last_time,
    count() AS logins,
    argMin(SourceIP, EventTime) AS first_ip,
    argMin(toString(SourceCountry), EventTime) AS first_country,
    argMin(SourceASN, EventTime) AS first_asn,
    argMin(Device, EventTime) AS first_device,
    arraySort(groupUniqArray(20)(SourceIP)) AS source_ips,
    arraySort(groupUniqArray(5)(Device)) AS devices,
    any(k.logins) AS baseline_logins,
    max(known_device) AS known_device,
    {TRUTH}
FROM
(
    SELECT
        *,
        {_ATTRIBUTES} AS kv,
        (User, ('device', Device)) IN (SELECT User, kv FROM base) AS known_device
    FROM auth_events
    WHERE {IS_LOGIN} AND {IN_WINDOW}
) AS e
INNER JOIN known AS k ON e.User = k.User
WHERE kv.2 NOT IN ('', '0') AND (e.User, kv) NOT IN (SELECT User, kv FROM base)
GROUP BY User, kind, value
ORDER BY first_time, User, kind
"""  # noqa: S608 - constant fragments only; values are bound

_RESETS = """
SELECT User, arraySort(groupArray(EventTime)) AS resets
FROM auth_events
WHERE EventType = 'password_reset' AND User IN {users:Array(String)}
  AND EventTime >= {since:DateTime64(3)} AND EventTime < {end:DateTime64(3)}
GROUP BY User
"""

_OFF_HOURS = f"""
WITH base AS
(
    SELECT
        User,
        count() AS n,
        groupArray(toUInt8(toHour(EventTime))) AS hours,
        groupUniqArray(Device) AS known_devices
    FROM auth_events
    WHERE {IS_LOGIN} AND {IN_BASELINE}
    GROUP BY User
    HAVING n >= {{min_baseline_logins:UInt32}}
)
SELECT
    User,
    toDate(EventTime) AS day,
    count() AS offhours_logins,
    countIf(NOT has(b.known_devices, Device)) AS new_device_logins,
    arraySort(groupUniqArray(toUInt8(toHour(EventTime)))) AS hours,
    min(EventTime) AS first_time,
    max(EventTime) AS last_time,
    arraySort(groupUniqArray(20)(SourceIP)) AS source_ips,
    arraySort(groupUniqArray(5)(Device)) AS devices,
    any(b.n) AS baseline_logins,
    any(b.hours) AS baseline_hours,
    {TRUTH}
FROM auth_events AS e
INNER JOIN base AS b ON e.User = b.User
WHERE {IS_LOGIN} AND {IN_WINDOW}
  AND arrayCount(x -> least(abs(toInt16(x) - toInt16(toHour(EventTime))),
                            24 - abs(toInt16(x) - toInt16(toHour(EventTime)))) <= 1, b.hours)
      < {{max_share:Float64}} * b.n
GROUP BY User, day
ORDER BY first_time, User
"""  # noqa: S608 - constant fragments only; values are bound

_DORMANT = f"""
SELECT
    User, EventTime, prev_time, SourceIP, prev_ip,
    toString(SourceCountry) AS country, prev_country, SourceASN, Device,
    dateDiff('millisecond', assumeNotNull(prev_time), EventTime) / 86400000 AS idle_days,
    toUInt64(label = 'attack') AS attack_events,
    toUInt64(label != '') AS labelled_events,
    arrayFilter(c -> c != '', [campaign]) AS campaigns,
    arrayFilter(a -> a != '', [if(label = 'attack', toString(actor), '')]) AS attack_actors
FROM
(
    SELECT
        User, EventTime, SourceIP, SourceCountry, SourceASN, Device, label, campaign, actor,
        lagInFrame(toNullable(EventTime)) OVER w AS prev_time,
        lagInFrame(SourceIP) OVER w AS prev_ip,
        lagInFrame(toString(SourceCountry)) OVER w AS prev_country
    FROM auth_events
    WHERE {IS_LOGIN}
      AND EventTime >= {{history_start:DateTime64(3)}} AND EventTime < {{end:DateTime64(3)}}
    WINDOW w AS (PARTITION BY User ORDER BY EventTime, EventID
                 ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
)
WHERE prev_time IS NOT NULL AND {IN_WINDOW}
  AND dateDiff('millisecond', assumeNotNull(prev_time), EventTime) >= {{idle_ms:UInt64}}
ORDER BY EventTime, User
"""  # noqa: S608 - constant fragments only; values are bound


def _count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name} must be a positive integer, got {value!r}")
    return value


def _who(user: object) -> str:
    return clip(user, 40)


def detect_first_seen(
    store: Store,
    window: DetectionWindow,
    min_baseline_logins: int = 5,
    reset_lookback_hours: float = 24.0,
) -> pd.DataFrame:
    """Find sign-ins from a country, network (ASN) or device new for the account.

    Parameters
    ----------
    store : Store
        Where ``auth_events`` lives.
    window : DetectionWindow
        Sign-ins in ``[start, end)`` are compared with the reference window.
    min_baseline_logins : int, default 5
        Accounts with fewer reference sign-ins are skipped.
    reset_lookback_hours : float, default 24
        A password reset of the account this long before the first new sign-in raises the
        score (a reset followed by a new place is how stolen recovery channels look).

    Returns
    -------
    pandas.DataFrame
        Alert rows from detectors ``first_seen_country``, ``first_seen_asn`` and
        ``first_seen_device`` (entity: the account), one per new value.

    Raises
    ------
    InputError
        When a threshold is out of range.
    """
    if not 0 <= float(reset_lookback_hours) <= 24 * 30:
        raise InputError(f"reset_lookback_hours must be 0 to 720, got {reset_lookback_hours}")
    params = {
        **window.parameters(),
        "min_baseline_logins": _count("min_baseline_logins", min_baseline_logins),
    }
    found = store.query_df(_FIRST_SEEN, params)
    lookback = pd.Timedelta(hours=float(reset_lookback_hours))
    resets: dict[str, list[pd.Timestamp]] = {}
    if len(found) and lookback > pd.Timedelta(0):
        table = store.query_df(
            _RESETS,
            {"users": sorted(set(found["User"])), "since": window.start - lookback,
             "end": window.end},
        )  # fmt: skip
        resets = {
            u: list(pd.to_datetime(np.asarray(ts), utc=True))
            for u, ts in zip(table["User"], table["resets"], strict=True)
        }
    rows = []
    for _, row in found.iterrows():
        detector, noun, score = FIRST_SEEN[row["kind"]]
        first = row["first_time"]
        value = f"AS {row['value']}" if row["kind"] == "asn" else clip(row["value"])
        where = place(row["first_country"], row["first_asn"])
        reasons = [
            f"{_who(row['User'])} signed in from a {noun} new for the account: {value}, first at "
            f"{when(first)} from {clip(row['first_ip'])}"
            + (f" ({where})" if where else "")
            + f"; none of its {plural(row['baseline_logins'], 'reference sign-in')} came from "
            f"it (first-seen {noun})"
        ]
        if row["logins"] > 1:
            reasons.append(
                f"{plural(row['logins'], 'sign-in')} from it until {when(row['last_time'])}"
            )
        if row["kind"] != "device" and row["known_device"]:
            score -= KNOWN_DEVICE_DISCOUNT
            reasons.append("from a device the account used before")
        before = [t for t in resets.get(row["User"], []) if first - lookback <= t <= first]
        if before:
            score += RESET_BONUS
            reasons.insert(1, (
                f"the account's password was reset {duration((first - before[-1]).total_seconds())} "
                "before this sign-in"
            ))  # fmt: skip
        rows.append(user_alert(
            detector, row, first, score, reasons,
            {"logins": row["logins"], "baseline_logins": row["baseline_logins"],
             "password_reset_before": float(bool(before)),
             "known_device": float(row["known_device"])},
            last_seen=row["last_time"], source_ips=row["source_ips"], devices=row["devices"],
            detail=str(row["value"]),
        ))  # fmt: skip
    return alert_frame(rows)


def detect_off_hours(
    store: Store,
    window: DetectionWindow,
    min_baseline_logins: int = 10,
    max_share: float = 0.02,
) -> pd.DataFrame:
    """Find accounts signing in at hours they never use, one alert per account and day.

    Parameters
    ----------
    store : Store
        Where ``auth_events`` lives.
    window : DetectionWindow
        Sign-ins in ``[start, end)`` are compared with the reference window.
    min_baseline_logins : int, default 10
        Accounts with fewer reference sign-ins are skipped (too few to know their hours).
    max_share : float, default 0.02
        A sign-in is off-hours when less than this share of the account's reference
        sign-ins were within an hour of its hour of day (UTC).

    Returns
    -------
    pandas.DataFrame
        Alert rows (entity: the account).

    Raises
    ------
    InputError
        When a threshold is out of range.
    """
    if not 0.0 < float(max_share) <= 1.0:
        raise InputError(f"max_share must be a share in (0, 1], got {max_share}")
    params = {
        **window.parameters(),
        "min_baseline_logins": _count("min_baseline_logins", min_baseline_logins),
        "max_share": float(max_share),
    }
    found = store.query_df(_OFF_HOURS, params)
    rows = []
    for _, row in found.iterrows():
        counts = np.bincount(np.asarray(row["baseline_hours"], dtype=np.int64), minlength=24)
        first_hour, last_hour = usual_hours(counts[:24])
        hours = ", ".join(f"{int(h):02d}:00" for h in row["hours"])
        n = int(row["offhours_logins"])
        reasons = [
            f"{_who(row['User'])} signed in {'once' if n == 1 else f'{n} times'} at unusual hours on "
            f"{row['day']:%Y-%m-%d} ({hours} UTC); 90% of its "
            f"{plural(row['baseline_logins'], 'reference sign-in')} were between "
            f"{first_hour:02d}:00 and {last_hour:02d}:59 UTC (off-hours activity)"
        ]
        strangers = int(row["new_device_logins"])
        if strangers:
            reasons.append(
                f"{plural(strangers, 'of them', 'of them')} from a device new for the account"
            )
            score = min(50.0, 40.0 + 4.0 * (n - 1))
        else:
            reasons.append("all from devices the account used before")
            score = min(35.0, 25.0 + 4.0 * (n - 1))
        rows.append(user_alert(
            "off_hours", row, row["first_time"], score, reasons,
            {"offhours_logins": n, "new_device_logins": strangers,
             "baseline_logins": row["baseline_logins"], "usual_first_hour": first_hour,
             "usual_last_hour": last_hour},
            last_seen=row["last_time"], source_ips=row["source_ips"], devices=row["devices"],
        ))  # fmt: skip
    return alert_frame(rows)


def detect_dormant_account(
    store: Store, window: DetectionWindow, min_idle_days: float = 7.0
) -> pd.DataFrame:
    """Find accounts signing in again after a long time without any successful sign-in.

    Parameters
    ----------
    store : Store
        Where ``auth_events`` lives.
    window : DetectionWindow
        Sign-ins in ``[start, end)``; the previous sign-in is looked up from
        ``history_start`` (accounts with none in the history are skipped).
    min_idle_days : float, default 7
        Idle time that makes an account dormant. Real deployments use 30 or more; the
        default suits the short synthetic windows.

    Returns
    -------
    pandas.DataFrame
        Alert rows (entity: the account), one per return from dormancy.

    Raises
    ------
    InputError
        When ``min_idle_days`` is not positive.
    """
    if isinstance(min_idle_days, bool) or not isinstance(min_idle_days, int | float):
        raise InputError(f"min_idle_days must be a number, got {min_idle_days!r}")
    if min_idle_days <= 0:
        raise InputError(f"min_idle_days must be positive, got {min_idle_days}")
    params = {**window.parameters(), "idle_ms": int(min_idle_days * 86_400_000)}
    found = store.query_df(_DORMANT, params)
    rows = []
    for _, row in found.iterrows():
        where = place(row["country"], row["SourceASN"])
        moved = bool(row["country"]) and row["country"] != row["prev_country"]
        reasons = [
            f"{_who(row['User'])} signed in from {clip(row['SourceIP'])}"
            + (f" ({where})" if where else "")
            + f" at {when(row['EventTime'])} after {row['idle_days']:.1f} days without a "
            f"successful sign-in (last at {when(row['prev_time'])} from {clip(row['prev_ip'])}) "
            "(dormant account reuse)"
        ]
        if moved:
            reasons.append(
                f"from another country than its last sign-in ({clip(row['prev_country'], 8)} "
                f"then {clip(row['country'], 8)})"
            )
        score = min(85.0, 65.0 + 2.0 * (row["idle_days"] - min_idle_days) + 10.0 * moved)
        rows.append(user_alert(
            "dormant_account", row, row["EventTime"], score, reasons,
            {"idle_days": row["idle_days"], "country_changed": float(moved)},
            source_ips=[row["SourceIP"]], devices=[row["Device"]],
        ))  # fmt: skip
    return alert_frame(rows)
