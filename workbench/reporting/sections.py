"""What report templates show, computed in ClickHouse and returned as self-rendering objects.

Templates hold no logic: a cell calls one of these functions and displays what comes back.
Aggregation runs in the store; what comes back is one row per time bucket or per entity.
Each function opens the store through :func:`~workbench.reporting.access.report_store` for its
queries only (unless a store is passed), and records the report's headline numbers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from workbench.errors import InputError
from workbench.reporting.access import report_store
from workbench.reporting.record import record, record_context
from workbench.store import Store
from workbench.timespec import as_utc_times, format_stamp, format_time, time_window
from workbench.viz import (
    SafeHTML,
    concat,
    heading,
    html_table,
    key_value_table,
    paragraph,
    score_histogram,
    share_bar,
    status_mix,
    top_bar,
    volume_timeseries,
)

#: Entity columns the traffic overview ranks, with their headings and chart titles.
TOP_ENTITIES = {
    "ClientIP": ("IP addresses", "Top IP addresses by requests"),
    "ClientASN": ("Networks (ASN)", "Top networks (ASN) by requests"),
    "JA4": ("TLS fingerprints (JA4)", "Top TLS fingerprints (JA4) by requests"),
    "ClientRequestUserAgent": ("User agents", "Top user agents by requests"),
    "ClientRequestPath": ("Paths", "Top paths by requests"),
}
_BUCKETS = (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 86400)
_SUMMARY_SQL = """
SELECT
    count() AS requests,
    uniqExact(ClientIP) AS distinct_ips,
    uniqExact(ClientASN) AS distinct_asns,
    uniqExact(JA4) AS distinct_ja4,
    uniqExact(ClientRequestUserAgent) AS distinct_user_agents,
    uniqExact(ClientRequestPath) AS distinct_paths,
    countIf(BotScore > 0) AS scored,
    countIf(BotScore > 0 AND BotScore < 30) AS likely_automated,
    countIf(EdgeResponseStatus >= 400 AND EdgeResponseStatus < 500) AS status_4xx,
    countIf(EdgeResponseStatus >= 500) AS status_5xx,
    min(EdgeStartTimestamp) AS first_request,
    max(EdgeStartTimestamp) AS last_request
FROM http_requests
WHERE EdgeStartTimestamp >= {start:DateTime64(3)} AND EdgeStartTimestamp < {end:DateTime64(3)}
"""
_BOT_SCORE_SQL = """
SELECT
    multiIf(BotScore = 0, 0, BotScore < 10, 1, intDiv(BotScore, 10) * 10) AS score_low,
    multiIf(BotScore = 0, 0, BotScore < 10, 9, least(intDiv(BotScore, 10) * 10 + 9, 99)) AS score_high,
    count() AS requests
FROM http_requests
WHERE EdgeStartTimestamp >= {start:DateTime64(3)} AND EdgeStartTimestamp < {end:DateTime64(3)}
GROUP BY score_low, score_high
ORDER BY score_low
"""


def bucket_seconds_for(start: dt.datetime, end: dt.datetime, max_buckets: int = 300) -> int:
    """Pick a time bucket width giving at most ``max_buckets`` buckets over the window.

    Parameters
    ----------
    start, end : datetime
        The window.
    max_buckets : int, default 300
        Upper bound on buckets.

    Returns
    -------
    int
        One of 1, 5, 15, 30 minutes, 1, 3, 6 hours or a day, in seconds.
    """
    span = max((end - start).total_seconds(), 1.0)
    for width in _BUCKETS:
        if span / width <= max_buckets:
            return width
    return _BUCKETS[-1]


def bucket_label(seconds: int) -> str:
    """Return a bucket width as a reader says it: ``5 min``, ``1 h``, ``24 h``.

    Parameters
    ----------
    seconds : int
        The width (:func:`bucket_seconds_for`).

    Returns
    -------
    str
    """
    minutes = seconds / 60
    return f"{minutes:g} min" if minutes < 60 else f"{minutes / 60:g} h"


@dataclass
class TrafficOverview:
    """A window of HTTP traffic: volume, top entities, bot scores, statuses, countries.

    Attributes
    ----------
    start, end : datetime
        The window (UTC, end exclusive).
    summary : dict
        Totals: requests, distinct IPs/ASNs/JA4/user agents/paths, shares, first/last request.
    buckets : pandas.DataFrame
        Requests per time bucket with status classes.
    bucket_seconds : int
        Bucket width.
    top : dict of str to pandas.DataFrame
        Top entities per entity column (see ``TOP_ENTITIES``).
    bot_scores : pandas.DataFrame
        Requests per bot-score bin.
    statuses : pandas.DataFrame
        Requests per response status.
    countries : pandas.DataFrame
        Top client countries.
    """

    start: dt.datetime
    end: dt.datetime
    summary: dict[str, Any]
    buckets: pd.DataFrame
    bucket_seconds: int
    top: dict[str, pd.DataFrame] = field(default_factory=dict)
    bot_scores: pd.DataFrame = field(default_factory=pd.DataFrame)
    statuses: pd.DataFrame = field(default_factory=pd.DataFrame)
    countries: pd.DataFrame = field(default_factory=pd.DataFrame)

    def summary_table(self) -> SafeHTML:
        """Return the window's totals as a table."""
        s = self.summary
        rows = {
            "Window (UTC)": f"{format_time(self.start)} \u2192 {format_time(self.end)}",
            "Requests": s["requests"],
            "First / last request": f"{s['first_request'] or '-'} / {s['last_request'] or '-'}",
            "Distinct IPs": s["distinct_ips"],
            "Distinct networks (ASN)": s["distinct_asns"],
            "Distinct JA4 fingerprints": s["distinct_ja4"],
            "Distinct user agents": s["distinct_user_agents"],
            "Distinct paths": s["distinct_paths"],
            "Likely automated (bot score < 30, of scored)": _percent(s["likely_automated_share"]),
            "4xx / 5xx responses": f"{_percent(s['share_4xx'])} / {_percent(s['share_5xx'])}",
        }
        table = key_value_table(rows)
        if s["requests"]:
            return table
        return concat(table, paragraph("No requests in this window.", "wb-note"))

    def volume_figure(self) -> go.Figure:
        """Return requests over time, stacked by status class."""
        width = bucket_label(self.bucket_seconds)
        return volume_timeseries(self.buckets, title=f"Requests per {width} (UTC)")

    def top_figure(self, column: str) -> go.Figure:
        """Return a bar chart of the top entities of one kind."""
        frame = self._top(column)
        return top_bar(frame, title=TOP_ENTITIES[column][1])

    def top_table(self, column: str) -> SafeHTML:
        """Return the table of the top entities of one kind (escaped)."""
        own = {"ClientIP": "distinct_ips", "ClientRequestUserAgent": "distinct_user_agents",
               "ClientRequestPath": "distinct_paths"}  # fmt: skip
        frame = self._top(column).drop(columns=[own.get(column, "")], errors="ignore")
        return html_table(frame.rename(columns={"entity": column}), max_chars=90)

    def show_top_entities(self, columns: Sequence[str] | None = None) -> None:
        """Display heading, chart and table for each kind of entity, in order."""
        from IPython.display import display

        for column in columns or TOP_ENTITIES:
            display(heading(TOP_ENTITIES[column][0], 3))
            display(self.top_figure(column))
            display(self.top_table(column))

    def bot_score_figure(self) -> go.Figure:
        """Return the bot-score distribution."""
        return score_histogram(self.bot_scores)

    def status_figure(self) -> go.Figure:
        """Return the response status mix."""
        return status_mix(self.statuses)

    def status_table(self) -> SafeHTML:
        """Return the response statuses as a table."""
        return html_table(self.statuses)

    def country_figure(self) -> go.Figure:
        """Return requests per client country."""
        frame = self.countries.rename(columns={"entity": "country"})
        return share_bar(frame, label="country", title="Requests by client country")

    def _top(self, column: str) -> pd.DataFrame:
        if column not in self.top:
            raise InputError(f"no top entities for {column!r}; have {', '.join(self.top)}")
        return self.top[column]


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.1f} %"


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


def traffic_overview(
    start: str | dt.datetime = "-24h",
    end: str | dt.datetime = "now",
    limit: int = 10,
    bucket_seconds: int = 0,
    store: Store | None = None,
) -> TrafficOverview:
    """Compute the traffic overview of a window and record its headline numbers.

    Parameters
    ----------
    start, end : str or datetime, default "-24h", "now"
        The window: ISO 8601 or relative (``-24h``, ``now``).
    limit : int, default 10
        Entities per top list (1 to 1000).
    bucket_seconds : int, default 0
        Time bucket width in seconds; 0 chooses one from the window's length.
    store : Store, optional
        Query this store; by default the configured one is opened for the queries only.

    Returns
    -------
    TrafficOverview
        The data, with methods returning its figures and tables.

    Raises
    ------
    InputError
        When the window is empty or inverted, or ``limit``/``bucket_seconds`` are out of range.
    """
    first, last = time_window(start, end)
    if not 1 <= int(limit) <= 1000:
        raise InputError(f"limit must be between 1 and 1000, got {limit}")
    if int(bucket_seconds) < 0:
        raise InputError(f"bucket_seconds must be 0 (automatic) or positive, got {bucket_seconds}")
    width = int(bucket_seconds) or bucket_seconds_for(first, last)
    if store is None:
        with report_store() as opened:
            return traffic_overview(first, last, limit, width, store=opened)
    window = {"start": first, "end": last}
    row = store.query_df(_SUMMARY_SQL, window).iloc[0].to_dict()
    requests = int(row["requests"])
    summary: dict[str, Any] = {
        k: int(v) for k, v in row.items() if k not in ("first_request", "last_request")
    }
    summary["first_request"] = format_stamp(row["first_request"]) if requests else None
    summary["last_request"] = format_stamp(row["last_request"]) if requests else None
    summary["likely_automated_share"] = _share(summary["likely_automated"], summary["scored"])
    summary["share_4xx"] = _share(summary["status_4xx"], requests)
    summary["share_5xx"] = _share(summary["status_5xx"], requests)
    top = {
        column: store.run("top_entities", entity_column=column, limit=int(limit), **window)
        for column in TOP_ENTITIES
    }
    buckets = store.run("request_buckets", bucket_seconds=width, **window)
    buckets["bucket"] = as_utc_times(buckets["bucket"])
    overview = TrafficOverview(
        start=first,
        end=last,
        summary=summary,
        buckets=buckets,
        bucket_seconds=width,
        top=top,
        bot_scores=store.query_df(_BOT_SCORE_SQL, window),
        statuses=store.run("status_breakdown", **window),
        countries=store.run("top_entities", entity_column="ClientCountry", limit=20, **window),
    )
    record(
        requests=requests,
        distinct_ips=summary["distinct_ips"],
        likely_automated_share=summary["likely_automated_share"],
        share_5xx=summary["share_5xx"],
    )
    record_context(data_first=summary["first_request"], data_last=summary["last_request"])
    return overview
