"""Hand-made auth events for detector tests: a reference week of habits, then scenarios."""

from __future__ import annotations

import itertools
from typing import Any

import pandas as pd
import pyarrow as pa

#: Monday 2 March 2026, 00:00 UTC: the reference week is days 0-6, detection days 7-13.
DAY0 = pd.Timestamp("2026-03-02", tz="UTC")
REFERENCE_DAYS = 7
DETECTION_DAYS = 7

_TS = pa.timestamp("ms", tz="UTC")
SCHEMA = pa.schema(
    [
        ("EventID", pa.string()), ("EventTime", _TS), ("Host", pa.string()),
        ("Service", pa.string()), ("EventType", pa.string()), ("User", pa.string()),
        ("UserValid", pa.uint8()), ("Success", pa.uint8()), ("AuthMethod", pa.string()),
        ("SourceIP", pa.string()), ("SourcePort", pa.uint16()), ("SourceASN", pa.uint32()),
        ("SourceCountry", pa.string()), ("Latitude", pa.float64()), ("Longitude", pa.float64()),
        ("Device", pa.string()), ("Department", pa.string()), ("TargetUser", pa.string()),
        ("Command", pa.string()), ("Raw", pa.string()), ("Source", pa.string()),
        ("label", pa.string()), ("actor", pa.string()), ("campaign", pa.string()),
    ]
)  # fmt: skip

#: Places: country, ASN, latitude, longitude.
BERLIN = ("DE", 3320, 52.52, 13.405)
PARIS = ("FR", 3215, 48.857, 2.352)
SYDNEY = ("AU", 1221, -33.869, 151.209)
SAO_PAULO = ("BR", 28573, -23.55, -46.633)

_ids = itertools.count(1)


def at(day: float, hour: float = 0.0, minute: float = 0.0, second: float = 0.0) -> pd.Timestamp:
    """Return the time ``day`` days and ``hour:minute:second`` after DAY0."""
    return DAY0 + pd.Timedelta(days=day, hours=hour, minutes=minute, seconds=second)


def ev(
    time: pd.Timestamp,
    user: str,
    etype: str = "login_success",
    *,
    ip: str = "192.0.2.1",
    place: tuple = BERLIN,
    device: str = "laptop-1",
    service: str = "sso",
    host: str = "idp.example",
    success: int | None = None,
    valid: int = 1,
    department: str = "eng",
    target: str = "",
    command: str = "",
    raw: str = "",
    label: str = "",
    campaign: str = "",
    actor: str = "",
) -> dict[str, Any]:
    """Return one ``auth_events`` row."""
    country, asn, lat, lon = place
    ok = int(etype != "login_failure" and etype != "invalid_user") if success is None else success
    return {
        "EventID": f"e{next(_ids):08d}", "EventTime": time, "Host": host, "Service": service,
        "EventType": etype, "User": user, "UserValid": valid, "Success": ok,
        "AuthMethod": "password", "SourceIP": ip, "SourcePort": 40000, "SourceASN": asn,
        "SourceCountry": country, "Latitude": lat, "Longitude": lon, "Device": device,
        "Department": department, "TargetUser": target, "Command": command, "Raw": raw,
        "Source": "test", "label": label, "actor": actor, "campaign": campaign,
    }  # fmt: skip


def habits(
    user: str,
    *,
    ip: str,
    place: tuple = BERLIN,
    device: str = "laptop-1",
    hours: tuple[float, ...] = (9, 13, 17),
    days: range = range(REFERENCE_DAYS),
    **kw: Any,
) -> list[dict[str, Any]]:
    """Return a user's ordinary sign-ins: the same place, device and hours every day."""
    return [
        ev(at(d, h), user, ip=ip, place=place, device=device, **kw) for d in days for h in hours
    ]


def table(rows: list[dict[str, Any]]) -> pa.Table:
    """Return rows as an Arrow table with the ``auth_events`` types."""
    frame = pd.DataFrame(rows)
    frame["EventTime"] = pd.to_datetime(frame["EventTime"], utc=True).astype("datetime64[ms, UTC]")
    return pa.Table.from_pandas(frame[SCHEMA.names], schema=SCHEMA, preserve_index=False)


def load(store, rows: list[dict[str, Any]]) -> int:
    """Insert rows into ``auth_events``."""
    return store.insert_arrow("auth_events", table(rows))
