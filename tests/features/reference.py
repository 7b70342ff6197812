"""Pandas reference implementation of the entity features, for parity tests only.

Written from the definitions in the registry's descriptions, not from its SQL: vectorized
pandas (groupby, no per-group Python), as a notebook author would write it. The parity tests
compare it with the ClickHouse results; the benchmark uses it as the in-memory baseline.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

# Definitions restated for Python's ``re`` (``\Z`` = end of text, like RE2's ``$``).
_BOT = re.compile(
    r"(bot|crawl|spider|slurp|curl|wget|python|go-http-client|java/|libwww|"
    r"httpclient|okhttp|scrapy|headless|phantomjs|axios|node-fetch)",
    re.IGNORECASE,
)
_FAMILY_RULES = (
    (6, _BOT),
    (4, re.compile(r"Edg(e|A|iOS)?/")),
    (2, re.compile(r"(Firefox|FxiOS)/")),
    (1, re.compile(r"(Chrome|CriOS|Chromium)/")),
    (3, re.compile(r"Safari/")),
)
OTHER, BOT, BROWSERS = 5, 6, (1, 2, 3, 4)
_ASSET = re.compile(r"\.(css|js|png|jpg|jpeg|gif|svg|ico|woff|woff2|ttf|webp|map)\Z", re.IGNORECASE)
_LOGIN = re.compile(r"(login|signin|sign-in|auth)", re.IGNORECASE)

KEYS = {
    "ip": ["ClientIP"],
    "asn": ["ClientASN"],
    "ja4": ["JA4"],
    "ja3": ["JA3Hash"],
    "user_agent": ["ClientRequestUserAgent"],
    "ip_ua": ["ClientIP", "ClientRequestUserAgent"],
    "account": ["User"],
}


def _per_unique(values: pd.Series, func, dtype) -> np.ndarray:
    """Apply a Python function once per distinct value and spread the results to rows."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    table = np.fromiter((func(u) for u in uniques), dtype=dtype, count=len(uniques))
    return table[codes]


def _family_of(text: str) -> int:
    for code, rule in _FAMILY_RULES:
        if rule.search(text):
            return code
    return OTHER


def ua_family(ua: pd.Series) -> pd.Series:
    """Browser-family code of each user agent (first matching rule, else other)."""
    return pd.Series(_per_unique(ua, _family_of, np.int64), index=ua.index)


def _ms(ts: pd.Series) -> pd.Series:
    ts = pd.to_datetime(ts, utc=True)
    return (ts.dt.tz_convert("UTC").astype("datetime64[ms, UTC]").astype("int64")).rename("ms")


def _window(rows: pd.DataFrame, time_col: str, start, end) -> pd.DataFrame:
    t = pd.to_datetime(rows[time_col], utc=True)
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    lo = lo.tz_localize("UTC") if lo.tzinfo is None else lo.tz_convert("UTC")
    hi = hi.tz_localize("UTC") if hi.tzinfo is None else hi.tz_convert("UTC")
    inside = (t >= lo) & (t < hi)
    # copy-on-write: a shallow copy when nothing is cut, so no rows are duplicated
    return rows.copy(deep=False) if inside.all() else rows.loc[inside]


def _timing(df: pd.DataFrame, keys: list[str], ms: str, prefix: str = "") -> pd.DataFrame:
    """Counts, span, per-minute rates and inter-arrival gaps per group."""
    df = df[[*keys, ms]].sort_values([*keys, ms], kind="stable")
    g = df.groupby(keys, sort=True, observed=True)
    n = g.size()
    first, last = g[ms].min(), g[ms].max()
    out = pd.DataFrame(index=n.index)
    minute = df[ms] // 60_000
    per_minute = df.assign(_minute=minute).groupby([*keys, "_minute"], observed=True).size()
    level = list(range(len(keys)))
    out["active_minutes"] = per_minute.groupby(level=level).size()
    out["active_span_s"] = (last - first) / 1000
    out["rate_per_minute_mean"] = n / out["active_minutes"]
    out["rate_per_minute_peak"] = per_minute.groupby(level=level).max()
    many = n >= 2
    mean = ((last - first) / 1000 / (n - 1)).where(many)
    gaps = g[ms].diff()  # NaN for each group's first row
    per_row_mean = mean.reindex(
        pd.MultiIndex.from_frame(df[keys]) if len(keys) > 1 else df[keys[0]]
    )
    dev2 = (gaps / 1000 - per_row_mean.to_numpy()) ** 2
    std = np.sqrt(dev2.groupby([df[k] for k in keys], observed=True).mean()).where(many)
    bursts = (gaps < 1000).groupby([df[k] for k in keys], observed=True).sum()
    out["interarrival_mean_s"] = mean
    out["interarrival_std_s"] = std
    out["interarrival_cv"] = std / mean
    out["burst_share"] = (bursts / (n - 1)).where(many)
    if prefix:
        out = out.rename(
            columns={
                "active_span_s": f"{prefix}active_span_s",
                "rate_per_minute_peak": f"{prefix}peak_per_minute",
            }
        )
    return out


def _entropy(df: pd.DataFrame, keys: list[str], col: str) -> pd.Series:
    counts = df.groupby([*keys, col], observed=True).size()
    level = list(range(len(keys)))
    p = counts / counts.groupby(level=level).transform("sum")
    return -(p * np.log2(p)).groupby(level=level).sum()


def _nunique_nonempty(df: pd.DataFrame, keys: list[str], col: str, empty) -> pd.Series:
    values = df[col].where(df[col] != empty)
    return values.groupby([df[k] for k in keys], observed=True).nunique()


def request_features(rows: pd.DataFrame, entity: str, start, end) -> pd.DataFrame:
    """Compute every request feature of ``entity`` over ``[start, end)`` with pandas.

    Parameters
    ----------
    rows : pandas.DataFrame
        ``http_requests`` rows (as read back from the store: Map columns as lists of pairs
        or dicts; a ``header_count`` column may stand in for ``RequestHeaders``).
    entity : str
        ``ip``, ``asn``, ``ja4``, ``ja3``, ``user_agent`` or ``ip_ua``.
    start, end
        Window, UTC.

    Returns
    -------
    pandas.DataFrame
        One row per entity, keys as columns, sorted by key.
    """
    keys = KEYS[entity]
    window = _window(rows, "EdgeStartTimestamp", start, end)
    # the majority family of each JA4 is taken over all traffic in the window
    window["_fam"] = ua_family(window["ClientRequestUserAgent"])
    with_fp = window[window["JA4"] != ""]
    fam_counts = with_fp.groupby(["JA4", "_fam"]).size().rename("n").reset_index()
    fam_counts = fam_counts.sort_values(["JA4", "n", "_fam"], ascending=[True, False, True])
    majority = fam_counts.drop_duplicates("JA4").set_index("JA4")["_fam"]
    df = window
    if entity in ("ja4", "ja3"):
        df = df[df[keys[0]] != ""]
    df = df.copy(deep=False)
    df["_ms"] = _ms(df["EdgeStartTimestamp"]).to_numpy()
    path = df["ClientRequestPath"]
    method = df["ClientRequestMethod"].astype(str)
    status = df["EdgeResponseStatus"].astype("int64")
    is_asset = pd.Series(_per_unique(path, lambda p: bool(_ASSET.search(p)), bool), df.index)
    is_login = pd.Series(_per_unique(path, lambda p: bool(_LOGIN.search(p)), bool), df.index)
    has_fp = df["JA4"] != ""
    flags = pd.DataFrame(
        {
            "night_share": pd.to_datetime(df["EdgeStartTimestamp"], utc=True).dt.hour < 6,
            "query_share": df["ClientRequestQuery"] != "",
            "post_share": method == "POST",
            "login_post_share": (method == "POST") & is_login,
            "asset_share": is_asset,
            "referer_share": df["ClientRequestReferer"] != "",
            "status_2xx_share": status.between(200, 299),
            "status_3xx_share": status.between(300, 399),
            "status_4xx_share": status.between(400, 499),
            "status_5xx_share": status.between(500, 599),
            "status_401_share": status == 401,
            "status_403_share": status == 403,
            "status_429_share": status == 429,
            "empty_ua_share": df["ClientRequestUserAgent"] == "",
            "browser_ua_share": df["_fam"].isin(BROWSERS),
            "bot_ua_share": df["_fam"] == BOT,
            "_pages": (method == "GET") & ~is_asset,
            "_assets": is_asset,
            "_has_fp": has_fp,
            "_consistent": has_fp & (df["_fam"] == df["JA4"].map(majority)),
        },
        index=df.index,
    )
    by = [df[k] for k in keys]
    sums = flags.groupby(by, observed=True).sum()
    n = df.groupby(keys, observed=True).size()
    out = _timing(df, keys, "_ms")
    out.insert(0, "requests", n)
    for col in flags.columns:
        if not col.startswith("_"):
            out[col] = sums[col] / n
    out["page_asset_ratio"] = sums["_pages"] / (sums["_assets"] + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["ua_ja4_consistency"] = sums["_consistent"].astype(float) / sums["_has_fp"]
    g = df.groupby(keys, observed=True)
    out["distinct_paths"] = g["ClientRequestPath"].nunique()
    out["distinct_hosts"] = g["ClientRequestHost"].nunique()
    out["path_entropy_bits"] = _entropy(df, keys, "ClientRequestPath")
    out["request_bytes_mean"] = g["ClientRequestBytes"].mean()
    out["response_bytes_mean"] = g["EdgeResponseBytes"].mean()
    # the benchmark loads length(RequestHeaders) as header_count instead of the maps
    headers = df["header_count"] if "header_count" in df else df["RequestHeaders"].map(len)
    out["header_count_mean"] = headers.groupby(by, observed=True).mean()
    out["distinct_ips"] = g["ClientIP"].nunique()
    out["distinct_user_agents"] = g["ClientRequestUserAgent"].nunique()
    out["distinct_ja4"] = _nunique_nonempty(df, keys, "JA4", "")
    out["distinct_ja3"] = _nunique_nonempty(df, keys, "JA3Hash", "")
    out["distinct_asns"] = _nunique_nonempty(df, keys, "ClientASN", 0)
    out["distinct_countries"] = _nunique_nonempty(df, keys, "ClientCountry", "")
    if entity in ("ja4", "ja3"):
        out["ip_rank"] = out["distinct_ips"].rank(method="min", ascending=False)
        out["ua_rank"] = out["distinct_user_agents"].rank(method="min", ascending=False)
        out["path_rank"] = out["distinct_paths"].rank(method="min", ascending=False)
        out["volume_quantile"] = out["requests"].rank(method="max", pct=True)
    return out.reset_index()


def account_features(events: pd.DataFrame, start, end) -> pd.DataFrame:
    """Compute every account feature over ``[start, end)`` with pandas.

    Parameters
    ----------
    events : pandas.DataFrame
        ``auth_events`` rows.
    start, end
        Window, UTC.

    Returns
    -------
    pandas.DataFrame
        One row per ``User``, sorted.
    """
    keys = ["User"]
    df = _window(events, "EventTime", start, end).copy(deep=False)
    df["_ms"] = _ms(df["EventTime"]).to_numpy()
    by = [df["User"]]
    # events are rows weighted by Repeats (a folded "message repeated N times" line is N)
    weight = df["Repeats"].astype("int64")
    n = weight.groupby(by).sum()
    failed = df["Success"] == 0
    timing = _timing(df, keys, "_ms", prefix="auth_")
    out = pd.DataFrame(index=n.index)
    out["auth_events"] = n
    out["auth_failures"] = weight.where(failed, 0).groupby(by).sum()
    out["auth_failure_share"] = out["auth_failures"] / n
    out["auth_invalid_user_share"] = weight.where(df["UserValid"] == 0, 0).groupby(by).sum() / n
    out["auth_distinct_source_ips"] = _nunique_nonempty(df, keys, "SourceIP", "")
    failed_ips = df["SourceIP"].where(failed & (df["SourceIP"] != ""))
    out["auth_distinct_failed_ips"] = failed_ips.groupby(by).nunique()
    out["auth_distinct_countries"] = _nunique_nonempty(df, keys, "SourceCountry", "")
    out["auth_distinct_asns"] = _nunique_nonempty(df, keys, "SourceASN", 0)
    out["auth_distinct_devices"] = _nunique_nonempty(df, keys, "Device", "")
    out["auth_distinct_hosts"] = _nunique_nonempty(df, keys, "Host", "")
    out["auth_distinct_methods"] = _nunique_nonempty(df, keys, "AuthMethod", "")
    hours = pd.to_datetime(df["EventTime"], utc=True).dt.hour
    out["auth_night_share"] = weight.where(hours < 6, 0).groupby(by).sum() / n
    per_minute = weight.groupby([df["User"], df["_ms"] // 60_000]).sum()
    out["auth_peak_per_minute"] = per_minute.groupby(level=0).max()
    out["auth_active_span_s"] = timing["auth_active_span_s"]
    return out.reset_index()


def reference_features(rows: pd.DataFrame, entity: str, start, end) -> pd.DataFrame:
    """Dispatch to :func:`request_features` or :func:`account_features`."""
    if entity == "account":
        return account_features(rows, start, end)
    return request_features(rows, entity, start, end)
