"""A small, varied, deterministic request and auth-event fixture for the feature tests.

Actors: browsing humans (browser UA with its matching JA4, assets, referers, slow gaps),
scrapers (library UA, many paths, fast), spoofers (Chrome UA on a Python TLS stack),
credential stuffers (POST /login, 401/403/429), a NAT sharing one IP between several users,
single-request IPs, duplicated timestamps, night traffic and hostile strings.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

T0 = pd.Timestamp("2024-05-01 00:00:00", tz="UTC")

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
SAFARI = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15"
EDGE = CHROME + " Edg/124.0"
PYTHON = "python-requests/2.31"
CURL = "curl/8.5.0"
HOSTILE_UA = "'); DROP TABLE http_requests; -- \\ \"\n\t Bot\u00e9 \u202e{start:String}"

JA4 = {
    "chrome": "t13d1516h2_8daaf6152771_02713d6af862",
    "firefox": "t13d1715h2_5b57614c22b0_3d5424432f57",
    "safari": "t13d2014h2_a09f3c656075_14788d8d241b",
    "python": "t13d1812h1_85036bcba153_375ca2c5e164",
    "curl": "t13d3112h2_e8f1e7e78f70_b26ce05bbdd6",
}
JA3 = {k: f"{i:032x}" for i, k in enumerate(JA4, start=7)}

PAGES = ["/", "/products", "/products/42", "/cart", "/about", "/search", "/Blog/Post-1"]
ASSETS = ["/static/app.js", "/static/site.CSS", "/img/logo.png", "/fonts/a.woff2", "/app.js.map"]


def make_requests(seed: int = 7) -> pd.DataFrame:
    """Return a few thousand requests as an ``http_requests`` frame (UTC timestamps)."""
    rng = np.random.default_rng(seed)
    rows: list[dict] = []

    def add(ip, asn, country, ua, ja4key, t, path, method="GET", status=200, query="",
            referer="", headers=None, host="shop.example"):  # fmt: skip
        rows.append(
            {
                "EdgeStartTimestamp": t,
                "ClientIP": ip,
                "ClientASN": asn,
                "ClientCountry": country,
                "ClientRequestMethod": method,
                "ClientRequestHost": host,
                "ClientRequestPath": path,
                "ClientRequestQuery": query,
                "ClientRequestUserAgent": ua,
                "ClientRequestReferer": referer,
                "ClientRequestBytes": int(rng.integers(200, 2000)),
                "JA4": JA4.get(ja4key, ja4key),
                "JA3Hash": JA3.get(ja4key, ""),
                "EdgeResponseStatus": status,
                "EdgeResponseBytes": int(rng.integers(0, 100_000)),
                "RequestHeaders": headers if headers is not None else {"accept": "*/*"},
                "label": "clean",
            }
        )

    browsers = [(CHROME, "chrome"), (FIREFOX, "firefox"), (SAFARI, "safari"), (EDGE, "chrome")]
    # humans: sessions of pages, each followed by assets within a second
    for h in range(60):
        ip = f"10.0.{h // 10}.{h % 10 + 1}"
        ua, fam = browsers[h % len(browsers)]
        t = T0 + pd.Timedelta(seconds=float(rng.uniform(0, 86_400)))
        for _ in range(int(rng.integers(1, 6))):
            page = PAGES[int(rng.integers(len(PAGES)))]
            headers = {"accept": "text/html", "accept-language": "en", "user-agent": ua}
            add(ip, 64500 + h % 5, ["US", "DE", "FR"][h % 3], ua, fam, t, page,
                referer="https://shop.example/" if rng.random() < 0.7 else "",
                query="q=shoes" if page == "/search" else "", headers=headers)  # fmt: skip
            for a in rng.choice(len(ASSETS), size=int(rng.integers(0, 4)), replace=False):
                t = t + pd.Timedelta(milliseconds=int(rng.integers(5, 900)))
                add(ip, 64500 + h % 5, ["US", "DE", "FR"][h % 3], ua, fam, t, ASSETS[a],
                    status=int(rng.choice([200, 304])), referer="https://shop.example" + page)  # fmt: skip
            t = t + pd.Timedelta(seconds=float(rng.exponential(40)))
    # scrapers: library UA, many distinct paths, fast and regular, some at night
    for s in range(8):
        ip = f"203.0.113.{s + 1}"
        ua, fam = (PYTHON, "python") if s % 2 else (CURL, "curl")
        t = T0 + pd.Timedelta(hours=int(s % 4) * 3, seconds=s)
        for i in range(int(rng.integers(80, 250))):
            add(ip, 14061, "NL", ua, fam, t, f"/products/{int(rng.integers(0, 400))}",
                status=int(rng.choice([200, 404, 429], p=[0.8, 0.15, 0.05])),
                query=f"page={i}" if i % 3 == 0 else "", headers={"accept": "*/*"})  # fmt: skip
            t = t + pd.Timedelta(milliseconds=int(rng.integers(100, 2500)))
    # spoofers: Chrome UA on a Python TLS stack, rotating IPs of one ASN
    for k in range(120):
        ip = f"198.51.100.{k % 40 + 1}"
        t = T0 + pd.Timedelta(hours=2, seconds=k * 7.5)
        add(ip, 16509, "US", CHROME, "python", t, "/products/" + str(k % 13),
            status=200, headers={"accept": "*/*", "user-agent": CHROME})  # fmt: skip
    # credential stuffing: POST /login and /api/auth with failures, several UAs per IP
    for c in range(300):
        ip = f"192.0.2.{c % 15 + 1}"
        ua = [CHROME, FIREFOX, PYTHON][c % 3]
        t = T0 + pd.Timedelta(hours=4, milliseconds=c * 350)
        add(ip, 9009, ["RU", "BR"][c % 2], ua, ["python", "curl"][c % 2], t,
            ["/login", "/api/Auth/token", "/account/SignIn"][c % 3], method="POST",
            status=int(rng.choice([401, 403, 429, 200], p=[0.7, 0.1, 0.15, 0.05])),
            headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    # one NAT address: many users with different browsers and countries, same timestamps
    for n in range(90):
        ua, fam = browsers[n % len(browsers)]
        t = T0 + pd.Timedelta(hours=13, seconds=(n // 3) * 2)  # triples share a timestamp
        add("172.16.0.1", 3320, ["DE", "AT", ""][n % 3], ua, fam, t, PAGES[n % len(PAGES)],
            referer="" if n % 4 else "https://www.google.com/")  # fmt: skip
    # single-request IPs, one with an empty UA and no JA4, one with hostile strings
    add("100.64.0.1", 0, "", "", "", T0 + pd.Timedelta(hours=23, minutes=59), "/")
    add("100.64.0.2", 4134, "CN", HOSTILE_UA, "t13d_'\\x00", T0 + pd.Timedelta(hours=5),
        "/a.css\n", method="PUT", status=500, query="x='1'--",
        referer="javascript:alert(1)", headers={"x-\"evil\"": "\u0000", "a": "b", "c": "d"})  # fmt: skip
    add(
        "100.64.0.3",
        0,
        "ZZ",
        "Googlebot/2.1 (+http://www.google.com/bot.html)",
        "curl",
        T0 + pd.Timedelta(hours=3, minutes=30),
        "/robots.txt",
    )
    # a request just outside the window, to check the bounds
    add("10.0.0.1", 64500, "US", CHROME, "chrome", T0 + pd.Timedelta(days=1), "/late")

    df = pd.DataFrame(rows)
    df["EdgeStartTimestamp"] = pd.to_datetime(df["EdgeStartTimestamp"]).dt.floor("ms")
    df.insert(0, "RayID", [f"{seed:02x}{i:014x}" for i in range(len(df))])
    df["ClientASN"] = df["ClientASN"].astype("uint32")
    df["EdgeResponseStatus"] = df["EdgeResponseStatus"].astype("uint16")
    df["ClientRequestBytes"] = df["ClientRequestBytes"].astype("uint64")
    df["EdgeResponseBytes"] = df["EdgeResponseBytes"].astype("uint64")
    return df


def make_auth_events(seed: int = 11) -> pd.DataFrame:
    """Return a few hundred ``auth_events`` rows: normal users, a brute-forced account, and
    an account whose failures syslog folded into ``message repeated N times`` rows."""
    rng = np.random.default_rng(seed)
    rows: list[dict] = []
    for u in range(25):
        user = f"user{u:02d}"
        t = T0 + pd.Timedelta(hours=7 + u % 3)
        for _ in range(int(rng.integers(1, 12))):
            ok = rng.random() < 0.9
            rows.append(
                {
                    "EventTime": t,
                    "User": user,
                    "UserValid": 1,
                    "Success": int(ok),
                    "EventType": "login_success" if ok else "login_failure",
                    "AuthMethod": ["password", "sso"][u % 2],
                    "Host": ["idp", "bastion"][u % 2],
                    "SourceIP": f"10.1.0.{u + 1}",
                    "SourceASN": 64500 + u % 3,
                    "SourceCountry": ["US", "DE"][u % 2],
                    "Device": f"laptop-{u}",
                }
            )
            t = t + pd.Timedelta(minutes=float(rng.exponential(30)))
    for k in range(200):  # brute force against one account from many addresses, at night
        rows.append(
            {
                "EventTime": T0 + pd.Timedelta(hours=2, milliseconds=k * 400),
                "User": "admin",
                "UserValid": 1,
                "Success": int(k == 199),
                "EventType": "login_success" if k == 199 else "login_failure",
                "AuthMethod": "password",
                "Host": "bastion",
                "SourceIP": f"45.0.{k % 7}.{k % 11}",
                "SourceASN": [4134, 0][k % 2],
                "SourceCountry": ["CN", "RU", ""][k % 3],
                "Device": "",
            }
        )
    for k in range(30):  # invalid user names
        rows.append(
            {
                "EventTime": T0 + pd.Timedelta(hours=3, seconds=k),
                "User": f"guess{k % 4}",
                "UserValid": 0,
                "Success": 0,
                "EventType": "invalid_user",
                "AuthMethod": "password",
                "Host": "bastion",
                "SourceIP": "45.9.9.9",
                "SourceASN": 4134,
                "SourceCountry": "CN",
                "Device": "",
            }
        )
    # syslog-folded failures: "message repeated 7 times" lines are one row with Repeats = 7;
    # (minute offset, repeats, success, source): 7 + 7 + 7 + 1 + 3 failures and one success
    for minute, repeats, ok, ip in (
        (0, 7, 0, "203.0.113.13"),
        (0.5, 7, 0, "203.0.113.13"),
        (1, 7, 0, "203.0.113.13"),
        (2, 1, 0, "203.0.113.13"),
        (3, 1, 1, "203.0.113.13"),
        (300, 3, 0, "198.51.100.7"),
    ):
        rows.append(
            {
                "EventTime": T0 + pd.Timedelta(hours=4, minutes=minute),
                "User": "root",
                "UserValid": 1,
                "Success": ok,
                "EventType": "login_success" if ok else "login_failure",
                "AuthMethod": "password",
                "Host": "bastion",
                "SourceIP": ip,
                "SourceASN": 28573,
                "SourceCountry": "BR",
                "Device": "",
                "Repeats": repeats,
            }
        )  # fmt: skip
    df = pd.DataFrame(rows)
    df["EventTime"] = pd.to_datetime(df["EventTime"]).dt.floor("ms")
    df.insert(0, "EventID", [f"e{i:06d}" for i in range(len(df))])
    df["Repeats"] = df["Repeats"].fillna(1).astype("uint32")
    for col in ("UserValid", "Success"):
        df[col] = df[col].astype("uint8")
    df["SourceASN"] = df["SourceASN"].astype("uint32")
    return df
