"""Per-user-day features: one row per account and UTC day, computed by one ClickHouse query.

The features describe a day of one account against its own reference window: how many
sign-ins and failures, from how many addresses, countries, networks and devices it has not
used before, at unusual hours, how fast it would have had to travel between successive
sign-ins, how long it had been idle, and what privileged actions followed. The unsupervised
and semi-supervised models (:mod:`workbench.detect.model`) and the peer-group detector
(:mod:`workbench.detect.peers`) read them.
"""

from __future__ import annotations

import pandas as pd

from workbench.detect.sql import FAILURE_WEIGHT, IN_BASELINE, IS_PRIVILEGED, TRUTH
from workbench.detect.window import DetectionWindow
from workbench.errors import InputError
from workbench.store.base import Store

#: Feature columns, in model order (all numeric).
FEATURES = (
    "logins",
    "failures",
    "invalid_attempts",
    "fail_ratio",
    "source_ips",
    "failing_ips",
    "countries",
    "new_countries",
    "new_asns",
    "new_devices",
    "offhours_logins",
    "max_speed_kmh",
    "max_idle_days",
    "privileged",
    "privileged_failed",
    "password_resets",
    "services",
    "has_baseline",
)
#: A hop shorter than this is not counted for speed (city-level geolocation noise).
MIN_TRAVEL_KM = 100.0

_USER_DAYS = f"""
WITH base AS
(
    SELECT User, SourceCountry, SourceASN, Device, toUInt8(toHour(EventTime)) AS hour
    FROM auth_events
    WHERE EventType = 'login_success' AND User != '' AND {IN_BASELINE}
),
users AS
(
    SELECT User, count() AS base_n, groupArray(hour) AS base_hours FROM base GROUP BY User
)
SELECT
    User,
    day,
    anyIf(Department, Department != '') AS Department,
    min(EventTime) AS first_time,
    max(EventTime) AS last_time,
    countIf(is_login) AS logins,
    sum(weight) AS failures,
    countIf(EventType = 'invalid_user') AS invalid_attempts,
    failures / greatest(failures + logins, 1) AS fail_ratio,
    uniqExactIf(SourceIP, SourceIP != '') AS source_ips,
    uniqExactIf(SourceIP, weight > 0 AND SourceIP != '') AS failing_ips,
    arraySort(groupUniqArrayIf(4)(SourceIP, weight > 0 AND SourceIP != '')) AS failing_ip_list,
    uniqExactIf(SourceCountry, is_login AND SourceCountry != '') AS countries,
    uniqExactIf(SourceCountry, is_login AND known AND new_country) AS new_countries,
    uniqExactIf(SourceASN, is_login AND known AND new_asn) AS new_asns,
    uniqExactIf(Device, is_login AND known AND new_device) AS new_devices,
    countIf(is_login AND known AND usual_share < {{offhours_share:Float64}}) AS offhours_logins,
    max(if(is_login AND hop_km >= {MIN_TRAVEL_KM}, hop_km / greatest(hop_hours, 1 / 60), 0))
        AS max_speed_kmh,
    max(if(is_login, idle_days, 0)) AS max_idle_days,
    countIf({IS_PRIVILEGED}) AS privileged,
    countIf({IS_PRIVILEGED} AND Success = 0) AS privileged_failed,
    countIf(EventType = 'password_reset') AS password_resets,
    uniqExact(Service) AS services,
    toUInt8(max(known)) AS has_baseline,
    any(base_n) AS baseline_logins,
    {TRUTH}
FROM
(
    SELECT
        ev.*,
        toDate(EventTime) AS day,
        EventType = 'login_success' AS is_login,
        {FAILURE_WEIGHT} AS weight,
        u.base_n AS base_n,
        u.base_n >= {{min_baseline_logins:UInt32}} AS known,
        (User, SourceCountry) NOT IN (SELECT User, SourceCountry FROM base) AS new_country,
        (User, SourceASN) NOT IN (SELECT User, SourceASN FROM base) AS new_asn,
        (User, Device) NOT IN (SELECT User, Device FROM base) AS new_device,
        arrayCount(x -> least(abs(toInt16(x) - toInt16(toHour(EventTime))),
                              24 - abs(toInt16(x) - toInt16(toHour(EventTime)))) <= 1,
                   u.base_hours) / greatest(u.base_n, 1) AS usual_share,
        if(prev_time IS NULL OR (prev_lat = 0 AND prev_lon = 0) OR (Latitude = 0 AND Longitude = 0),
           0, greatCircleDistance(prev_lon, prev_lat, Longitude, Latitude) / 1000) AS hop_km,
        if(prev_time IS NULL, 0,
           dateDiff('millisecond', assumeNotNull(prev_time), EventTime) / 3600000) AS hop_hours,
        if(prev_time IS NULL, 0,
           dateDiff('millisecond', assumeNotNull(prev_time), EventTime) / 86400000) AS idle_days
    FROM
    (
        SELECT
            *,
            lagInFrame(toNullable(EventTime)) OVER w AS prev_time,
            lagInFrame(Latitude) OVER w AS prev_lat,
            lagInFrame(Longitude) OVER w AS prev_lon
        FROM auth_events
        WHERE User != ''
          AND EventTime < {{end:DateTime64(3)}}
          AND (EventTime >= {{start:DateTime64(3)}}
               OR (EventType = 'login_success' AND EventTime >= {{history_start:DateTime64(3)}}))
        WINDOW w AS (PARTITION BY User, EventType = 'login_success' ORDER BY EventTime, EventID
                     ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
    ) AS ev
    LEFT JOIN users AS u ON ev.User = u.User
    WHERE EventTime >= {{start:DateTime64(3)}}
)
GROUP BY User, day
ORDER BY User, day
"""  # noqa: S608 - constant fragments only; values are bound


def user_day_features(
    store: Store,
    window: DetectionWindow,
    min_baseline_logins: int = 5,
    offhours_share: float = 0.02,
) -> pd.DataFrame:
    """Compute one feature row per account and UTC day of the detection window.

    Parameters
    ----------
    store : Store
        Where ``auth_events`` lives.
    window : DetectionWindow
        Days in ``[start, end)``; novelty and hours are judged against the reference window,
        idle time against the history (``history_start``).
    min_baseline_logins : int, default 5
        Accounts with fewer reference sign-ins have no baseline: their novelty and
        off-hours features are 0 and ``has_baseline`` is 0.
    offhours_share : float, default 0.02
        A sign-in is off-hours when less than this share of the account's reference
        sign-ins were within an hour of its hour of day.

    Returns
    -------
    pandas.DataFrame
        ``User``, ``day``, ``Department``, ``first_time`` and ``last_time`` (of the day's
        events), the :data:`FEATURES`, ``failing_ip_list`` (up to 4 addresses that failed
        passwords), ``baseline_logins`` and the ground-truth columns
        ``attack_events``, ``labelled_events``, ``campaigns``, ``attack_actors``.

    Raises
    ------
    InputError
        When a threshold is out of range.
    """
    if isinstance(min_baseline_logins, bool) or not isinstance(min_baseline_logins, int):
        raise InputError(f"min_baseline_logins must be an integer, got {min_baseline_logins!r}")
    if not 0 <= min_baseline_logins <= 1_000_000:
        raise InputError(f"min_baseline_logins must be 0 to 1000000, got {min_baseline_logins}")
    if not 0.0 <= float(offhours_share) <= 1.0:
        raise InputError(f"offhours_share must be a share from 0 to 1, got {offhours_share}")
    params = {
        **window.parameters(),
        "min_baseline_logins": max(min_baseline_logins, 1),
        "offhours_share": float(offhours_share),
    }
    frame = store.query_df(_USER_DAYS, params)
    for name in FEATURES:
        frame[name] = frame[name].astype("float64")
    return frame
