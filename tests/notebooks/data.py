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


def load(store: Store, requests: int = 3000, hostile: bool = True) -> dict:
    """Insert a day of synthetic traffic (and the hostile rows); return what was loaded."""
    rows = sum(
        store.insert_arrow("http_requests", t)
        for t in generate_traffic(requests, days=1, seed=7, start=START)
    )
    if hostile:
        rows += store.insert_df("http_requests", hostile_rows())
    ips = store.query_df("SELECT DISTINCT ClientIP AS ip FROM http_requests")["ip"].tolist()
    return {"rows": rows, "ips": ips}


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
