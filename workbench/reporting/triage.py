"""The triage report: what the detectors raised over a window and what triage made of it.

It reads what ``wb alerts build`` and ``wb alerts triage`` wrote (tables ``alerts`` and
``incidents``): the incidents ranked by risk with their reasons, alerts per detector and
severity over time, the top incidents' alerts with the features that drove them, every
allowlist suppression with its count, and, when the auth events carry ground truth, incident
precision and recall against the injected incidents (:mod:`workbench.detect.evaluate`).
Counting runs in the store; what comes back is one row per incident, bucket or rule.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from workbench.detect.alerts import SEVERITIES, ensure_tables
from workbench.detect.allowlist import load_allowlist
from workbench.detect.evaluate import incident_metrics, incident_report, injected_incidents
from workbench.detect.window import make_window
from workbench.errors import InputError
from workbench.reporting.access import report_store
from workbench.reporting.record import note_sensitive, record, record_context
from workbench.reporting.sections import bucket_label, bucket_seconds_for
from workbench.store import Store
from workbench.timespec import as_utc_times, format_stamp, format_time, time_window
from workbench.viz import SafeHTML, concat, heading, html_table, key_value_table, paragraph
from workbench.viz.figures import TEMPLATE, plot_label

#: Colour of each severity in the figures, lowest first.
SEVERITY_COLORS = {"low": "#90a4ae", "medium": "#fbc02d", "high": "#f57c00", "critical": "#c62828"}
_REPEAT = "repeat of "
_ALERT_WINDOW = "AlertTime >= {start:DateTime64(3)} AND AlertTime < {end:DateTime64(3)}"
_INCIDENT_WINDOW = "FirstSeen >= {start:DateTime64(3)} AND FirstSeen < {end:DateTime64(3)}"
_SUMMARY_SQL = f"""
SELECT
    count() AS alerts,
    countIf(Suppressed = 1 AND NOT startsWith(SuppressedBy, '{_REPEAT}')) AS suppressed,
    countIf(Suppressed = 1 AND startsWith(SuppressedBy, '{_REPEAT}')) AS repeats,
    countIf(IncidentID != '') AS in_incidents,
    countIf(Suppressed = 0 AND IncidentID = '') AS unassigned,
    min(AlertTime) AS first_alert,
    max(LastSeen) AS last_alert
FROM alerts WHERE {_ALERT_WINDOW}
"""  # noqa: S608 - constant fragments only; values are bound
_INCIDENT_COUNTS_SQL = f"""
SELECT Severity, count() AS incidents FROM incidents WHERE {_INCIDENT_WINDOW} GROUP BY Severity
"""  # noqa: S608
_INCIDENTS_SQL = f"""
SELECT IncidentID, FirstSeen, LastSeen, Risk, Severity, Alerts, Repeats, Detectors, Users,
       SourceIPs, Summary, Reasons, campaigns
FROM incidents WHERE {_INCIDENT_WINDOW}
ORDER BY Risk DESC, FirstSeen, IncidentID
LIMIT {{limit:UInt64}}
"""  # noqa: S608
_TIMELINE_SQL = f"""
SELECT toStartOfInterval(AlertTime, toIntervalSecond({{bucket:UInt32}})) AS bucket,
       toString(Detector) AS Detector, toString(Severity) AS Severity, count() AS alerts
FROM alerts WHERE {_ALERT_WINDOW}
GROUP BY bucket, Detector, Severity ORDER BY bucket, Detector, Severity
"""  # noqa: S608
_ALERTS_SQL = """
SELECT IncidentID, AlertTime, toString(Detector) AS Detector, toString(Severity) AS Severity,
       Score, Entity, arrayStringConcat(Reasons, '; ') AS Reasons,
       arrayStringConcat(arrayMap((k, v) -> concat(k, '=', toString(round(v, 3))),
                                  mapKeys(Features), mapValues(Features)), ', ') AS Features,
       if(Suppressed = 1, SuppressedBy, '') AS SuppressedBy, Users
FROM alerts WHERE IncidentID IN {ids:Array(String)}
ORDER BY IncidentID, Suppressed, Score DESC, AlertTime, AlertID
"""
_SUPPRESSED_SQL = f"""
SELECT SuppressedBy AS rule, count() AS alerts,
       arraySort(groupUniqArray(toString(Detector))) AS detectors,
       min(AlertTime) AS first_alert, max(AlertTime) AS last_alert
FROM alerts
WHERE {_ALERT_WINDOW} AND Suppressed = 1 AND NOT startsWith(SuppressedBy, '{_REPEAT}')
GROUP BY rule ORDER BY alerts DESC, rule
"""  # noqa: S608
_LABELLED_SQL = """
SELECT countIf(label != '') AS labelled FROM auth_events
WHERE EventTime >= {start:DateTime64(3)} AND EventTime < {end:DateTime64(3)}
"""


@dataclass
class Triage:
    """A window of alerts and incidents, with methods returning its figures and tables.

    Attributes
    ----------
    start, end : datetime
        The window (UTC, end exclusive): alerts by ``AlertTime``, incidents by ``FirstSeen``.
    summary : dict
        ``alerts``, ``suppressed`` (allowlist), ``repeats``, ``in_incidents``, ``unassigned``,
        ``first_alert``, ``last_alert``, ``incidents`` and ``by_severity`` (incidents).
    incidents : pandas.DataFrame
        The highest-risk incidents (at most ``limit``), ranked.
    timeline : pandas.DataFrame
        Alerts per time bucket, detector and severity.
    bucket_seconds : int
        Bucket width.
    incident_alerts : pandas.DataFrame
        The alerts of the top ``detail`` incidents, with reasons and features.
    suppressions : pandas.DataFrame
        Alerts suppressed per allowlist rule (every rule of a given allowlist, zeros included).
    metrics : dict or None
        :func:`~workbench.detect.evaluate.incident_metrics` when the events carry ground truth.
    evaluation, truth : pandas.DataFrame
        Precision and recall per severity floor, and the injected incidents.
    """

    start: dt.datetime
    end: dt.datetime
    summary: dict[str, Any]
    incidents: pd.DataFrame
    timeline: pd.DataFrame
    bucket_seconds: int
    incident_alerts: pd.DataFrame
    suppressions: pd.DataFrame
    metrics: dict[str, Any] | None = None
    evaluation: pd.DataFrame = field(default_factory=pd.DataFrame)
    truth: pd.DataFrame = field(default_factory=pd.DataFrame)

    def summary_table(self) -> SafeHTML:
        """Return the window's counts, with a note when it holds no alerts."""
        s = self.summary
        by = s["by_severity"]
        table = key_value_table({
            "Window (UTC)": f"{format_time(self.start)} \u2192 {format_time(self.end)}",
            "Alerts": s["alerts"],
            "Incidents": s["incidents"],
            "Incidents by severity": ", ".join(f"{by[k]} {k}" for k in reversed(SEVERITIES)),
            "Alerts in incidents": s["in_incidents"],
            "Suppressed by the allowlist": s["suppressed"],
            "Repeats dropped": s["repeats"],
            "Left unassigned (risk below the incident threshold)": s["unassigned"],
            "First / last alert": f"{s['first_alert'] or '-'} / {s['last_alert'] or '-'}",
        })  # fmt: skip
        if not s["alerts"]:
            return concat(table, _note(
                "No alerts in this window. Build them with `wb alerts build` (and group them "
                "with `wb alerts triage`), or choose another window."))  # fmt: skip
        if not s["incidents"] and not s["in_incidents"]:
            return concat(table, _note(
                "No incidents in this window: either no group of alerts reached the incident "
                "threshold, or the alerts have not been triaged yet (`wb alerts triage`)."))  # fmt: skip
        return table

    def incidents_table(self) -> SafeHTML:
        """Return the incidents ranked by risk, with their entities and reasons."""
        if self.incidents.empty:
            return _note("No incidents in this window.")
        frame = self.incidents.assign(
            Detectors=[_listing(d, 12) for d in self.incidents["Detectors"]],
            Users=[_listing(u) for u in self.incidents["Users"]],
            SourceIPs=[_listing(ip) for ip in self.incidents["SourceIPs"]],
            Reasons=["; ".join(r) for r in self.incidents["Reasons"]],
        ).rename(columns={"SourceIPs": "Source IPs", "Reasons": "Why", "FirstSeen": "First seen",
                          "LastSeen": "Last seen"})  # fmt: skip
        shown = ["Rank", "Risk", "Severity", "Summary", "Entities", "Users", "Source IPs",
                 "Detectors", "Alerts", "Repeats", "First seen", "Last seen", "Why"]  # fmt: skip
        return html_table(frame[shown], max_rows=len(frame), max_chars=240)

    def timeline_figure(self) -> go.Figure | SafeHTML:
        """Return alerts per time bucket, stacked by detector."""
        if self.timeline.empty:
            return _note("No alerts to draw.")
        per = self.timeline.groupby(["bucket", "Detector"], as_index=False)["alerts"].sum()
        fig = go.Figure()
        for detector, part in per.groupby("Detector", sort=True):
            fig.add_trace(go.Bar(
                x=part["bucket"], y=part["alerts"], name=plot_label(detector),
                hovertemplate="%{x|%Y-%m-%d %H:%M} UTC<br>%{y:,} alerts"
                              "<extra>%{fullData.name}</extra>"))  # fmt: skip
        fig.update_layout(barmode="stack")
        fig.update_yaxes(title_text="alerts", dtick=_dtick(per.groupby("bucket")["alerts"].sum()))
        return _layout(
            fig, f"Alerts per {bucket_label(self.bucket_seconds)} by detector (UTC)", 380
        )

    def severity_figure(self) -> go.Figure | SafeHTML:
        """Return each detector's alerts, stacked by severity."""
        if self.timeline.empty:
            return _note("No alerts to draw.")
        mix = self._mix().iloc[::-1]  # plotly draws the first row at the bottom
        fig = go.Figure()
        for level in SEVERITIES:
            fig.add_trace(go.Bar(
                y=[plot_label(d) for d in mix.index], x=mix[level], name=level, orientation="h",
                marker_color=SEVERITY_COLORS[level],
                hovertemplate="%{y}: %{x:,} " + level + " alerts<extra></extra>"))  # fmt: skip
        fig.update_layout(barmode="stack")
        fig.update_xaxes(title_text="alerts", dtick=_dtick(mix.sum(axis=1)))
        fig.update_yaxes(type="category", automargin=True)
        return _layout(fig, "Severity mix per detector", max(260, 80 + 28 * len(mix)))

    def severity_table(self) -> SafeHTML:
        """Return alerts per detector and severity as a table."""
        if self.timeline.empty:
            return _note("No alerts in this window.")
        mix = self._mix()[list(reversed(SEVERITIES))]
        return html_table(mix.assign(total=mix.sum(axis=1)).astype(int), index=True)

    def _mix(self) -> pd.DataFrame:
        """Alerts per detector (rows, most first) and severity (columns, lowest first)."""
        mix = self.timeline.pivot_table(index="Detector", columns="Severity", values="alerts",
                                        aggfunc="sum", fill_value=0)  # fmt: skip
        mix = mix.reindex(columns=list(SEVERITIES), fill_value=0)
        return mix.loc[mix.sum(axis=1).sort_values(ascending=False, kind="stable").index]

    def incident_alerts_tables(self) -> SafeHTML:
        """Return, per top incident, its alerts with their reasons and driving features."""
        if self.incident_alerts.empty:
            return _note("No incidents in this window.")
        parts: list[SafeHTML] = []
        for _, incident in self.incidents.iterrows():
            rows = self.incident_alerts[
                self.incident_alerts["IncidentID"] == incident["IncidentID"]
            ]
            if rows.empty:
                continue
            parts.append(heading(f"#{incident['Rank']} {incident['Severity']} (risk "
                                 f"{incident['Risk']:g}): {incident['Summary']}", 3))  # fmt: skip
            shown = rows.drop(columns=["IncidentID", "Users"]).rename(
                columns={"AlertTime": "Time", "SuppressedBy": "Suppressed (repeat of / rule)"}
            )
            parts.append(html_table(shown, max_rows=50, max_chars=400))
        return concat(*parts)

    def suppressions_table(self) -> SafeHTML:
        """Return the alerts each allowlist rule suppressed, and the repeats dropped."""
        repeats = self.summary["repeats"]
        note = _note(f"{repeats:,} repeat alert{'s' if repeats != 1 else ''} dropped (the same "
                     "detector on the same entity soon after; each stays in its incident).")  # fmt: skip
        if self.suppressions.empty:
            return concat(_note("No alert was suppressed by an allowlist in this window."), note)
        return concat(html_table(self.suppressions, max_rows=200, max_chars=200), note)

    def evaluation_table(self) -> SafeHTML:
        """Return incident precision and recall against the injected incidents."""
        if self.metrics is None:
            return _note("The auth events of this window carry no ground truth, so precision "
                         "and recall cannot be measured.")  # fmt: skip
        m = self.metrics
        missed = ", ".join(m["missed"]) or "none"
        return concat(key_value_table({
            "Incident precision (incidents containing an injected incident)": _ratio(m["precision"]),
            "Incident recall (injected incidents found)": _ratio(m["recall"]),
            "True / false positive incidents": f"{m['true_positives']} / {m['false_positives']}",
            "Injected incidents / detected": f"{m['injected']} / {m['detected']}",
            "Missed injected incidents": missed,
        }), html_table(self.evaluation), heading("Injected incidents", 3),
            html_table(self.truth, max_rows=200))  # fmt: skip


def _note(text: str) -> SafeHTML:
    return paragraph(text, "wb-note")


def _listing(values: Any, shown: int = 5) -> str:
    items = [str(v) for v in list(values)]
    more = f" (+{len(items) - shown} more)" if len(items) > shown else ""
    return ", ".join(items[:shown]) + more


def _dtick(totals: pd.Series) -> int:
    return max(1, -(-int(totals.max()) // 8))  # whole alerts, at most about 8 ticks


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _layout(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(title={"text": plot_label(title, None), "x": 0.0}, template=TEMPLATE,
                      height=height, margin={"l": 10, "r": 10, "t": 50, "b": 10},
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.0})  # fmt: skip
    return fig


def _summary(store: Store, window: dict) -> dict[str, Any]:
    row = store.query_df(_SUMMARY_SQL, window).iloc[0]
    counts = store.query_df(_INCIDENT_COUNTS_SQL, window)
    by = dict.fromkeys(SEVERITIES, 0) | {
        str(k): int(v) for k, v in zip(counts["Severity"], counts["incidents"], strict=True)
    }
    alerts = int(row["alerts"])
    summary = {k: int(row[k]) for k in ("alerts", "suppressed", "repeats", "in_incidents",
                                        "unassigned")}  # fmt: skip
    summary["first_alert"] = format_stamp(row["first_alert"]) if alerts else None
    summary["last_alert"] = format_stamp(row["last_alert"]) if alerts else None
    return summary | {"incidents": sum(by.values()), "by_severity": by}


def _incidents(store: Store, window: dict, limit: int) -> pd.DataFrame:
    frame = store.query_df(_INCIDENTS_SQL, {"limit": limit, **window})
    frame.insert(0, "Rank", range(1, len(frame) + 1))
    for name in ("Detectors", "Users", "SourceIPs", "Reasons", "campaigns"):
        frame[name] = [[str(x) for x in v] for v in frame[name]]
    frame["Entities"] = [len(u) + len(ip) for u, ip in zip(frame["Users"], frame["SourceIPs"],
                                                           strict=True)]  # fmt: skip
    return frame


def _suppressions(store: Store, window: dict, allowlist: str) -> pd.DataFrame:
    found = store.query_df(_SUPPRESSED_SQL, window)
    found["detectors"] = [", ".join(str(d) for d in v) for v in found["detectors"]]
    if not str(allowlist).strip():
        return found
    path = Path(allowlist).expanduser()
    if not path.is_file():
        raise InputError(f"allowlist file {path} does not exist")
    rules = pd.DataFrame([{"rule": r.name, "reason": r.reason} for r in load_allowlist(path).rules],
                         columns=["rule", "reason"])  # fmt: skip
    merged = rules.merge(found, on="rule", how="outer")
    merged["alerts"] = merged["alerts"].fillna(0).astype(int)
    return merged.fillna({"reason": "(not in this allowlist)", "detectors": ""})


def _evaluate(store: Store, first: dt.datetime, last: dt.datetime, window: dict):
    labelled = int(store.query_df(_LABELLED_SQL, window)["labelled"].iloc[0])
    if not labelled:
        return None, pd.DataFrame(), pd.DataFrame()
    everything = store.query_df(
        f"SELECT Risk, campaigns FROM incidents WHERE {_INCIDENT_WINDOW}",  # noqa: S608
        window,
    )
    everything["campaigns"] = [[str(c) for c in v] for v in everything["campaigns"]]
    truth = injected_incidents(store, make_window(first, last, 0.0, 0.0))
    metrics = incident_metrics(everything, truth)
    found = {c for cs in everything["campaigns"] for c in cs}
    truth = truth.assign(detected=[c in found for c in truth["campaign"]])
    return metrics, incident_report(everything, truth), truth


def _validate(limit: int, detail: int) -> None:
    for name, value, top in (("limit", limit, 1000), ("detail", detail, 100)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
            raise InputError(f"{name} must be an integer between 1 and {top}, got {value!r}")


def triage_report(
    start: str | dt.datetime = "-7d",
    end: str | dt.datetime = "now",
    limit: int = 25,
    detail: int = 5,
    allowlist: str = "",
    store: Store | None = None,
) -> Triage:
    """Read a window's alerts and incidents and record the report's headline numbers.

    Parameters
    ----------
    start, end : str or datetime, default "-7d", "now"
        The window: ISO 8601 or relative (``-7d``, ``now``).
    limit : int, default 25
        Incidents listed, highest risk first (1 to 1000).
    detail : int, default 5
        Top incidents whose alerts are shown one by one (1 to 100).
    allowlist : str, default ""
        The allowlist file triage used; its rules are listed with their counts, zeros
        included. ``""`` lists only the rules that suppressed something.
    store : Store, optional
        Query this store; by default the configured one is opened for the queries only.

    Returns
    -------
    Triage
        The data, with methods returning its figures and tables.

    Raises
    ------
    InputError
        For a bad window, ``limit`` or ``detail``, or a missing allowlist file.
    """
    first, last = time_window(start, end)
    _validate(limit, detail)
    if store is None:
        with report_store() as opened:
            return triage_report(first, last, limit, detail, allowlist, store=opened)
    ensure_tables(store)
    window = {"start": first, "end": last}
    width = bucket_seconds_for(first, last, max_buckets=120)
    summary = _summary(store, window)
    incidents = _incidents(store, window, limit)
    timeline = store.query_df(_TIMELINE_SQL, {"bucket": width, **window})
    timeline["bucket"] = as_utc_times(timeline["bucket"])
    ids = incidents["IncidentID"].head(detail).tolist()
    alerts = store.query_df(_ALERTS_SQL, {"ids": ids}) if ids else pd.DataFrame()
    metrics, evaluation, truth = _evaluate(store, first, last, window)
    report = Triage(first, last, summary, incidents, timeline, width, alerts,
                    _suppressions(store, window, allowlist), metrics, evaluation, truth)  # fmt: skip
    users = [u for us in incidents["Users"] for u in us]
    note_sensitive(users + ([u for us in alerts["Users"] for u in us] if len(alerts) else []))
    critical_high = summary["by_severity"]["critical"] + summary["by_severity"]["high"]
    record(alerts=summary["alerts"], incidents=summary["incidents"],
           critical_high_incidents=critical_high, suppressed=summary["suppressed"],
           repeats=summary["repeats"], precision=(metrics or {}).get("precision"),
           recall=(metrics or {}).get("recall"))  # fmt: skip
    if summary["alerts"]:
        record_context(data_first=summary["first_alert"], data_last=summary["last_alert"])
    return report
