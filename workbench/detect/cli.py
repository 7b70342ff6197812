"""``wb alerts``: build alerts from auth events, triage them into incidents, list them."""

from __future__ import annotations

import time
from typing import Annotated, Any

import pandas as pd
import typer

from workbench.errors import InputError

app = typer.Typer(
    help="Behaviour analytics on auth events: build alerts, triage them into incidents.",
    no_args_is_help=True,
)

StartOpt = Annotated[
    str | None,
    typer.Option(help="Detection window start, ISO 8601 UTC (default: after the reference week)."),
]
EndOpt = Annotated[
    str | None,
    typer.Option(help="Detection window end, exclusive (default: after the last event)."),
]
BaselineOpt = Annotated[
    float, typer.Option(help="Days of reference window before the start (per-user baselines).")
]


@app.callback()
def alerts() -> None:
    """Behaviour analytics on auth events: build alerts, triage them into incidents."""


def parse_options(items: list[str] | None) -> dict[str, dict[str, Any]]:
    """Turn ``detector.threshold=value`` strings into per-detector options.

    Parameters
    ----------
    items : list of str, optional
        For example ``["brute_force.min_failures=30", "dormant_account.min_idle_days=30"]``.

    Returns
    -------
    dict
        ``{detector: {threshold: value}}``; values become int, float or bool when they read
        as one.

    Raises
    ------
    InputError
        When an item is not ``detector.threshold=value``.
    """
    out: dict[str, dict[str, Any]] = {}
    for item in items or []:
        key, eq, raw = item.partition("=")
        detector, dot, name = key.strip().partition(".")
        if not (eq and dot and detector and name):
            raise InputError(f"option {item!r} must look like detector.threshold=value")
        out.setdefault(detector, {})[name] = _value(raw.strip())
    return out


def _value(raw: str) -> Any:
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    return raw


def _console():
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=False)
    if not console.is_terminal:
        console.width = 160  # files and pipes: wide enough for the reasons
    return console


def _table(title: str, frame: pd.DataFrame, columns: list[str]):
    """Build a rich table of plain-text cells (no markup), attacker strings clipped."""
    from rich.table import Table
    from rich.text import Text

    from workbench.detect.text import clip

    table = Table(title=title, show_lines=False)
    for col in columns:
        table.add_column(col, overflow="fold")
    for _, row in frame.iterrows():
        cells = []
        for col in columns:
            value = row[col]
            if isinstance(value, list | tuple) or hasattr(value, "tolist"):
                value = ", ".join(clip(v, 40) for v in list(value)[:4]) + (
                    " …" if len(value) > 4 else ""
                )  # fmt: skip
            elif isinstance(value, float):
                value = f"{value:g}"
            elif isinstance(value, pd.Timestamp):
                value = f"{value:%Y-%m-%d %H:%M}"
            cells.append(Text(clip(value, 160)))
        table.add_row(*cells)
    return table


@app.command("build")
def build(
    start: StartOpt = None,
    end: EndOpt = None,
    baseline_days: BaselineOpt = 7.0,
    history_days: Annotated[
        float, typer.Option(help="Days looked back for an account's last sign-in (dormancy).")
    ] = 90.0,
    detector: Annotated[
        list[str] | None,
        typer.Option("--detector", "-d", help="Run only this detector (repeatable)."),
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option("--option", "-o", help="Threshold override: detector.threshold=value."),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Show the alerts' counts, write nothing.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar on stderr.")] = True,
) -> None:
    """Run the detectors on auth_events and replace their alerts for the window."""
    from workbench.detect.build import build_alerts
    from workbench.detect.window import resolve_window
    from workbench.store import connect

    options = parse_options(option)
    store = connect()
    began = time.perf_counter()
    window = resolve_window(store, start, end, baseline_days, history_days)
    result = build_alerts(store, window, detector, options, write=not dry_run, progress=progress)
    console = _console()
    console.print(f"window: {window.describe()}", markup=False)
    counts = result.counts().reset_index().rename(columns={"Detector": "detector"})
    console.print(_table("alerts", counts, list(counts.columns)))
    action = "dry run, nothing written" if dry_run else f"wrote {result.written:,} alerts"
    console.print(
        f"{len(result.alerts):,} alerts; {action} to {store.describe()} in "
        f"{time.perf_counter() - began:.1f} s",
        markup=False,
    )


@app.command("triage")
def triage(
    start: StartOpt = None,
    end: EndOpt = None,
    baseline_days: BaselineOpt = 7.0,
    allowlist: Annotated[
        str | None, typer.Option(help="YAML allowlist of known-benign patterns.")
    ] = None,
    window_hours: Annotated[
        float, typer.Option(help="Alerts sharing an account/address/device this close group.")
    ] = 24.0,
    dedup_hours: Annotated[
        float, typer.Option(help="Same detector and entity within this: one alert.")
    ] = 24.0,
    min_severity: Annotated[
        str, typer.Option(help="Least severe incident opened (low, medium, high, critical).")
    ] = "medium",
    top: Annotated[int, typer.Option(help="Incidents shown.")] = 10,
) -> None:
    """Group the window's alerts into ranked incidents; suppress allowlisted ones, drop repeats."""
    from workbench.detect.allowlist import load_allowlist
    from workbench.detect.evaluate import incident_report, injected_incidents
    from workbench.detect.triage import triage_alerts
    from workbench.detect.window import resolve_window
    from workbench.store import connect

    if top < 1:
        raise InputError(f"--top must be positive, got {top}")
    rules = load_allowlist(allowlist) if allowlist else None
    store = connect()
    began = time.perf_counter()
    window = resolve_window(store, start, end, baseline_days)
    result = triage_alerts(
        store, window.start, window.end, rules, window_hours=window_hours,
        dedup_hours=dedup_hours, min_severity=min_severity,
    )  # fmt: skip
    console = _console()
    alerts = result.alerts
    console.print(f"window: {window.describe()}", markup=False)
    console.print(
        f"{len(alerts):,} alerts: {result.repeats:,} repeats dropped, "
        f"{sum(result.suppressed.values()):,} suppressed by the allowlist, "
        f"{int((alerts['IncidentID'] != '').sum()):,} in {len(result.incidents):,} incidents, "
        f"{result.ungrouped:,} below {min_severity} left unassigned",
        markup=False,
    )
    for rule, n in result.suppressed.items():
        console.print(f"  suppressed by {rule}: {n:,}", markup=False)
    if len(result.incidents):
        shown = result.incidents.head(top)
        console.print(_table(f"top {len(shown)} incidents", shown,
                             ["RiskRank", "Risk", "Severity", "Alerts", "Detectors", "Users",
                              "SourceIPs", "Summary"]))  # fmt: skip
    truth = injected_incidents(store, window)
    if len(truth):
        report = incident_report(result.incidents, truth)
        console.print(_table("against injected ground truth", report, list(report.columns)))
    console.print(f"triaged in {time.perf_counter() - began:.1f} s", markup=False)


@app.command("list")
def list_alerts(
    start: Annotated[str | None, typer.Option(help="From this time, ISO 8601 UTC.")] = None,
    end: Annotated[str | None, typer.Option(help="Until this time (exclusive).")] = None,
    min_severity: Annotated[str, typer.Option(help="Least severe shown.")] = "low",
    detector: Annotated[
        list[str] | None, typer.Option("--detector", "-d", help="Only this detector.")
    ] = None,
    incidents: Annotated[bool, typer.Option(help="List incidents instead of alerts.")] = False,
    include_suppressed: Annotated[
        bool, typer.Option(help="Also show suppressed alerts and repeats.")
    ] = False,
    limit: Annotated[int, typer.Option(help="Rows shown, highest score first.")] = 20,
) -> None:
    """Show stored alerts (or incidents), highest score first."""
    from workbench.detect.alerts import read_alerts
    from workbench.detect.triage import read_incidents
    from workbench.detect.window import parse_time
    from workbench.store import connect

    t0 = parse_time(start, "start") if start else None
    t1 = parse_time(end, "end") if end else None
    store = connect()
    console = _console()
    if incidents:
        found = read_incidents(store, t0, t1, min_severity, limit)
        columns = ["RiskRank", "Risk", "Severity", "FirstSeen", "Alerts", "Detectors", "Summary"]
        console.print(_table(f"{len(found)} incidents", found, columns))
        return
    found = read_alerts(store, t0, t1, detector, min_severity, include_suppressed, limit)
    found = found.sort_values(["Score", "AlertTime"], ascending=[False, True])
    found["Reason"] = [r[0] if len(r) else "" for r in found["Reasons"]]
    columns = ["AlertTime", "Severity", "Score", "Detector", "Entity", "IncidentID", "Reason"]
    if include_suppressed:
        columns.insert(-1, "SuppressedBy")
    console.print(_table(f"{len(found)} alerts", found, columns))
