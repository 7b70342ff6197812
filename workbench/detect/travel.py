"""Impossible travel: two successive sign-ins of one account too far apart for the time between.

ClickHouse pairs each successful sign-in with the account's previous one (``lagInFrame`` over
the account's sign-ins ordered by time) and measures the great-circle distance between their
locations (``greatCircleDistance``, metres on a 6,371 km sphere). A pair is reported when the
distance is at least ``min_km`` (city-level geolocation is not precise enough for less) and
the implied speed exceeds ``max_kmh`` (900 km/h, an airliner). Sign-ins without a location
(latitude and longitude both 0, as in parsed sshd logs) are skipped.
"""

from __future__ import annotations

import math

import pandas as pd

from workbench.detect.alerts import alert_frame, ground_truth, make_alert
from workbench.detect.sql import IN_WINDOW, IS_LOGIN
from workbench.detect.text import clip, duration, when
from workbench.detect.window import DetectionWindow
from workbench.errors import InputError
from workbench.store.base import Store

_PAIRS = f"""
SELECT
    User,
    prev_time,
    EventTime,
    prev_ip,
    SourceIP,
    prev_country,
    toString(SourceCountry) AS country,
    prev_device,
    Device,
    greatCircleDistance(prev_lon, prev_lat, Longitude, Latitude) / 1000 AS km,
    dateDiff('millisecond', assumeNotNull(prev_time), EventTime) / 3600000 AS hours,
    km / greatest(hours, {{min_hours:Float64}}) AS kmh,
    toUInt64(label = 'attack') + toUInt64(prev_label = 'attack') AS attack_events,
    toUInt64(label != '') + toUInt64(prev_label != '') AS labelled_events,
    arrayFilter(c -> c != '', [campaign, prev_campaign]) AS campaigns,
    arrayDistinct(arrayFilter(a -> a != '',
        [if(label = 'attack', toString(actor), ''), if(prev_label = 'attack', prev_actor, '')]))
        AS attack_actors
FROM
(
    SELECT
        User, EventTime, SourceIP, SourceCountry, Device, Latitude, Longitude,
        label, campaign, actor,
        lagInFrame(toNullable(EventTime)) OVER w AS prev_time,
        lagInFrame(SourceIP) OVER w AS prev_ip,
        lagInFrame(toString(SourceCountry)) OVER w AS prev_country,
        lagInFrame(Device) OVER w AS prev_device,
        lagInFrame(Latitude) OVER w AS prev_lat,
        lagInFrame(Longitude) OVER w AS prev_lon,
        lagInFrame(toString(label)) OVER w AS prev_label,
        lagInFrame(campaign) OVER w AS prev_campaign,
        lagInFrame(toString(actor)) OVER w AS prev_actor
    FROM auth_events
    WHERE {IS_LOGIN} AND NOT (Latitude = 0 AND Longitude = 0)
      AND EventTime >= {{baseline_start:DateTime64(3)}} AND EventTime < {{end:DateTime64(3)}}
    WINDOW w AS (PARTITION BY User ORDER BY EventTime, EventID
                 ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
)
WHERE prev_time IS NOT NULL AND {IN_WINDOW}
  AND km >= {{min_km:Float64}} AND kmh > {{max_kmh:Float64}}
ORDER BY EventTime, User
"""  # noqa: S608 - constant fragments only; values are bound


def detect_impossible_travel(
    store: Store,
    window: DetectionWindow,
    max_kmh: float = 900.0,
    min_km: float = 500.0,
    min_minutes: float = 1.0,
) -> pd.DataFrame:
    """Find successive sign-ins of one account that imply travelling faster than a plane.

    Parameters
    ----------
    store : Store
        Where ``auth_events`` lives.
    window : DetectionWindow
        Sign-ins in ``[start, end)`` are paired with the account's previous sign-in (looked
        up from the start of the reference window).
    max_kmh : float, default 900
        Fastest plausible travel, km/h.
    min_km : float, default 500
        Shortest distance reported.
    min_minutes : float, default 1
        Floor on the time between the sign-ins when computing the speed (two sign-ins in
        the same second are not infinitely fast, just very).

    Returns
    -------
    pandas.DataFrame
        Alert rows (entity: the account), one per pair.

    Raises
    ------
    InputError
        When a threshold is not positive.
    """
    for name, value in (("max_kmh", max_kmh), ("min_km", min_km), ("min_minutes", min_minutes)):
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise InputError(f"{name} must be a positive number, got {value!r}")
    params = {
        **window.parameters(),
        "max_kmh": float(max_kmh),
        "min_km": float(min_km),
        "min_hours": float(min_minutes) / 60.0,
    }
    pairs = store.query_df(_PAIRS, params)
    rows = []
    for _, row in pairs.iterrows():
        km, kmh = float(row["km"]), float(row["kmh"])
        gap = duration(float(row["hours"]) * 3600)
        before = f"{clip(row['prev_ip'])} ({clip(row['prev_country'], 8) or 'unknown'})"
        after = f"{clip(row['SourceIP'])} ({clip(row['country'], 8) or 'unknown'})"
        reasons = [
            f"{clip(row['User'], 40)} signed in from {after} at {when(row['EventTime'])}, {gap} "
            f"after signing in from {before}: {km:,.0f} km apart, {kmh:,.0f} km/h "
            f"(impossible travel, more than {max_kmh:,.0f} km/h)"
        ]
        if row["Device"] != row["prev_device"]:
            reasons.append(
                f"different devices: {clip(row['prev_device'])} then {clip(row['Device'])}"
            )
        score = min(82.0, 70.0 + 10.0 * math.log10(kmh / max_kmh))
        rows.append(make_alert(
            "impossible_travel", "user", row["User"], row["EventTime"], score, reasons,
            {"km": km, "hours": float(row["hours"]), "kmh": kmh,
             "device_changed": float(row["Device"] != row["prev_device"])},
            users=[row["User"]],
            source_ips=[row["prev_ip"], row["SourceIP"]],
            devices=[row["prev_device"], row["Device"]], truth=ground_truth(row),
            detail=f"{row['prev_ip']}>{row['SourceIP']}",
        ))  # fmt: skip
    return alert_frame(rows)
