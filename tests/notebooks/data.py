"""Data for executing report templates: a day of synthetic traffic plus attacker-written rows.

Run as a script to fill an embedded data folder from a separate process (the test process may
hold its own warehouse open, and chDB lets one process at a time open a folder)::

    python -m tests.notebooks.data FOLDER
"""

from __future__ import annotations

import datetime as dt
import json
import sys

import pandas as pd

from workbench.store import Store
from workbench.synth import generate_traffic

START = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
WINDOW = {"start": "2026-11-01T00:00:00Z", "end": "2026-11-02T00:00:00Z"}
HOSTILE_UAS = [
    '"><script>alert(1)</script>',
    '"><img src=x onerror=window.__xss=2>',
    '<a href="http://evil.example/">click</a>',
]
HOSTILE_PATHS = [
    "/<img src=x onerror=alert(1)>",
    "/<img src=x onerror=window.__xss=1>",
    "/account/reset?email=victim@example.org",
]
HOSTILE_JA4 = "<svg onload=window.__xss=3>"
HOSTILE_IPS = ["2001:db8:85a3::8a2e:370:7334", "198.51.100.66"]
#: Account names and a device an attacker chose, guessed on from one address (auth events).
HOSTILE_USERS = ['"><script>alert(1)</script>', "<img src=x onerror=alert(1)>"]
HOSTILE_DEVICE = "<svg onload=window.__xss=5>"
HOSTILE_AUTH_IP = "203.0.113.66"
#: Raw markup that must never reach a report unescaped.
PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror",
    "<svg onload",
    '<a href="http://evil',
]


def hostile_rows(n: int = 600) -> pd.DataFrame:
    """Requests whose user agents, paths, fingerprints and country are attacker-written."""
    times = [START + dt.timedelta(hours=12, seconds=7 * i) for i in range(n)]
    return pd.DataFrame(
        {
            "RayID": [f"hostile{i:05d}" for i in range(n)],
            "EdgeStartTimestamp": pd.to_datetime(times, utc=True),
            "ClientIP": [HOSTILE_IPS[i % 2] for i in range(n)],
            "ClientASN": [64500] * n,
            "ClientCountry": ["<i>"] * n,
            "ClientRequestMethod": ["GET"] * n,
            "ClientRequestHost": ["shop.example"] * n,
            "ClientRequestPath": [HOSTILE_PATHS[i % 3] for i in range(n)],
            "ClientRequestUserAgent": [HOSTILE_UAS[i % 3] for i in range(n)],
            "JA4": [HOSTILE_JA4] * n,
            "EdgeResponseStatus": [403] * n,
            "BotScore": [2] * n,
            "Source": ["hostile-test"] * n,
        }
    )


def hostile_auth_rows(n: int = 40) -> pd.DataFrame:
    """Failed passwords on attacker-named accounts from one address, then a sign-in."""
    times = [START + dt.timedelta(hours=13, seconds=20 * i) for i in range(n + 1)]
    failed = ["login_failure"] * n + ["login_success"]
    return pd.DataFrame({
        "EventID": [f"hostile-auth{i:04d}" for i in range(n + 1)],
        "EventTime": pd.to_datetime(times, utc=True).astype("datetime64[ms, UTC]"),
        "Host": ["idp"] * (n + 1), "Service": ["sso"] * (n + 1), "EventType": failed,
        "User": [HOSTILE_USERS[i % 2] for i in range(n + 1)], "UserValid": [1] * (n + 1),
        "Success": [int(e == "login_success") for e in failed], "AuthMethod": ["password"] * (n + 1),
        "SourceIP": [HOSTILE_AUTH_IP] * (n + 1), "SourcePort": [40000] * (n + 1),
        "SourceASN": [64500] * (n + 1), "SourceCountry": ["<i>"] * (n + 1),
        "Latitude": [0.0] * (n + 1), "Longitude": [0.0] * (n + 1),
        "Device": [HOSTILE_DEVICE] * (n + 1), "Department": [""] * (n + 1),
        "TargetUser": [""] * (n + 1), "Command": [""] * (n + 1), "Raw": [""] * (n + 1),
        "Source": ["hostile-test"] * (n + 1), "label": ["attack"] * (n + 1),
        "actor": ["brute_force"] * (n + 1), "campaign": ["hostile-brute-force"] * (n + 1),
    })  # fmt: skip


def load_auth(store: Store, users: int = 60) -> dict:
    """Insert a reference week of auth events, a detection day (``WINDOW``) with injected
    incidents and the hostile rows; build the day's alerts and triage them."""
    from workbench.detect import build_alerts, make_window, triage_alerts
    from workbench.synth.auth import write_auth_events

    first = START - dt.timedelta(days=7)
    events = write_auth_events(store, users, days=8, seed=11, start=first, clean_days=6,
                               progress=False)  # fmt: skip
    events += store.insert_df("auth_events", hostile_auth_rows())
    window = make_window(WINDOW["start"], WINDOW["end"], baseline_days=6.0)
    alerts = len(build_alerts(store, window).alerts)
    incidents = len(triage_alerts(store, window.start, window.end).incidents)
    return {"auth_events": events, "alerts": alerts, "incidents": incidents}


def load(store: Store, requests: int = 3000, hostile: bool = True) -> dict:
    """Insert a day of synthetic traffic (and the hostile rows); return what was loaded.

    With ``hostile``, auth events with their alerts and incidents are loaded too
    (:func:`load_auth`); the HTTP traffic is the same either way.
    """
    rows = sum(
        store.insert_arrow("http_requests", t)
        for t in generate_traffic(requests, days=1, seed=7, start=START)
    )
    if hostile:
        rows += store.insert_df("http_requests", hostile_rows())
    ips = store.query_df("SELECT DISTINCT ClientIP AS ip FROM http_requests")["ip"].tolist()
    return {"rows": rows, "ips": ips, **(load_auth(store) if hostile else {})}


def main(folder: str) -> None:
    """Fill the embedded store in ``folder`` (no hostile rows) and print what was loaded."""
    import os

    os.environ["WB_DATA_DIR"] = folder
    os.environ.pop("WB_DATABASE", None)
    from workbench.store import connect

    store = connect()
    loaded = load(store, hostile=False)
    store.close()
    print(json.dumps(loaded))


if __name__ == "__main__":
    main(sys.argv[1])
