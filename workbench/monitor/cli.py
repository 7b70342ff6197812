"""``wb monitor``: drift between windows, performance over time, calibration, history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from workbench.errors import InputError
from workbench.models.artifacts import resolve_model
from workbench.monitor.stats import SEVERITIES, Thresholds
from workbench.terminal import Window, printable, show_table

app = typer.Typer(
    help="Model and data monitoring: drift, performance over time, calibration, history.",
    no_args_is_help=True,
)

#: Exit status of ``drift`` and ``calibration`` when ``--fail-on`` is reached.
DRIFT_EXIT_CODE = 10


def _fail(verdict: str, fail_on: str) -> None:
    if fail_on != "never" and SEVERITIES.index(verdict) >= SEVERITIES.index(fail_on):
        raise typer.Exit(DRIFT_EXIT_CODE)


def _check_fail_on(fail_on: str) -> None:
    if fail_on not in ("never", "minor", "major"):
        raise InputError(f"--fail-on must be never, minor or major, got {fail_on!r}")


@app.command("drift")
def drift(
    reference: Window,
    current: Window,
    entity: Annotated[
        str, typer.Option(help="Entity whose features are compared (ip, ClientIP, ja4 ...).")
    ] = "ip",
    features: Annotated[
        str | None, typer.Option(help="Comma-separated feature names (default: all).")
    ] = None,
    weight: Annotated[
        str, typer.Option(help="Weigh entities once (entities) or by their requests.")
    ] = "entities",
    model: Annotated[
        str | None, typer.Option(help="Score drift of this model only: a name or a model folder.")
    ] = None,
    version: Annotated[str | None, typer.Option(help="Score drift of this version only.")] = None,
    requests: Annotated[
        bool, typer.Option(help="Compare request columns (country, status class ...).")
    ] = True,
    scores: Annotated[bool, typer.Option(help="Compare model score distributions.")] = True,
    entity_features: Annotated[
        bool, typer.Option("--entity-features/--no-entity-features", help="Compare features.")
    ] = True,
    bins: Annotated[int, typer.Option(help="PSI bins (quantiles of the reference).")] = 10,
    minor: Annotated[float, typer.Option(help="PSI at or above this is minor.")] = 0.1,
    major: Annotated[float, typer.Option(help="PSI above this is major.")] = 0.2,
    alpha: Annotated[
        float, typer.Option(help="Significance level against sampling noise (1: no test).")
    ] = 0.01,
    quantiles: Annotated[
        str, typer.Option(help="Reference quantiles: exact, or tdigest for huge windows.")
    ] = "exact",
    show: Annotated[str, typer.Option(help="Rows to print: all, minor or major.")] = "all",
    write: Annotated[bool, typer.Option(help="Keep the results in the monitoring table.")] = True,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the results to this JSON file.")
    ] = None,
    fail_on: Annotated[
        str,
        typer.Option(help=f"Exit {DRIFT_EXIT_CODE} when the verdict reaches: never, minor, major."),
    ] = "never",
    progress: Annotated[bool, typer.Option(help="Show a progress bar on stderr.")] = True,
) -> None:
    """Compare a current window with a reference: features, request columns and scores."""
    from workbench.monitor.drift import drift_report
    from workbench.monitor.history import write_monitoring
    from workbench.store import connect

    _check_fail_on(fail_on)
    if show not in ("all", "minor", "major"):
        raise InputError(f"--show must be all, minor or major, got {show!r}")
    names = [n.strip() for n in features.split(",") if n.strip()] if features else None
    if features is not None and not names:
        raise InputError("--features is empty; give comma-separated feature names")
    model_name, model_version = resolve_model(model, version)
    thresholds = Thresholds(minor, major, None if alpha >= 1 else alpha)
    store = connect()
    report = drift_report(
        store, reference, current, entity=entity if entity_features else None, features=names,
        weight=weight, requests=requests, scores=scores, model=model_name, version=model_version,
        bins=bins, grid=bins * 5, thresholds=thresholds, quantiles=quantiles, progress=progress,
    )  # fmt: skip
    columns = ["group", "subject", "psi", "ks", "js", "p_value", "severity", "n_eff_reference",
               "n_eff_current"]  # fmt: skip
    frame = report.to_frame() if show == "all" else report.flagged(show)
    show_table(frame[columns], strings_only=True)
    for note in report.notes:
        typer.echo(f"note: {printable(note)}")
    typer.echo(printable(report.summary()))
    if write:
        rows = write_monitoring(store, report)
        typer.echo(f"run {report.run_id}: {rows} rows written to monitoring")
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(report.to_dict(), ensure_ascii=False, allow_nan=False, indent=1)
        json_out.write_text(text, encoding="utf-8")
    _fail(report.verdict, fail_on)


@app.command("performance")
def performance(
    start: Annotated[str, typer.Option(help="First scored event time, UTC ISO-8601.")],
    end: Annotated[str, typer.Option(help="End of the window (exclusive), UTC ISO-8601.")],
    model: Annotated[str | None, typer.Option(help="A model name or a model folder.")] = None,
    version: Annotated[str | None, typer.Option(help="Only this version.")] = None,
    truth: Annotated[
        str, typer.Option(help="labels (analyst verdicts) or ground_truth (synthetic data).")
    ] = "labels",
    target: Annotated[str, typer.Option(help="Ground truth target: bot or attack.")] = "bot",
    as_of: Annotated[
        str | None, typer.Option(help="Use labels given by this time (default: now).")
    ] = None,
    bucket: Annotated[str, typer.Option(help="Period: hour, day or week.")] = "day",
    write: Annotated[bool, typer.Option(help="Keep the results in the monitoring table.")] = True,
) -> None:
    """Show PR-AUC, precision, recall and ECE per period, with the label coverage."""
    from workbench.monitor.history import write_monitoring
    from workbench.monitor.performance import performance_over_time
    from workbench.store import connect

    model_name, model_version = resolve_model(model, version)
    store = connect()
    frame = performance_over_time(
        store, start, end, model_name, model_version, truth, target, as_of, bucket
    )
    show_table(frame, strings_only=True)
    if write and not frame.empty:
        rows = write_monitoring(store, frame, bucket=bucket)
        typer.echo(f"{rows} rows written to monitoring")


@app.command("calibration")
def calibration(
    reference: Window,
    current: Window,
    model: Annotated[str | None, typer.Option(help="A model name or a model folder.")] = None,
    version: Annotated[str | None, typer.Option(help="Only this version.")] = None,
    truth: Annotated[
        str, typer.Option(help="labels (analyst verdicts) or ground_truth (synthetic data).")
    ] = "labels",
    target: Annotated[str, typer.Option(help="Ground truth target: bot or attack.")] = "bot",
    as_of: Annotated[
        str | None, typer.Option(help="Use labels given by this time (default: now).")
    ] = None,
    write: Annotated[bool, typer.Option(help="Keep the results in the monitoring table.")] = True,
    fail_on: Annotated[
        str,
        typer.Option(help=f"Exit {DRIFT_EXIT_CODE} when the verdict reaches: never, minor, major."),
    ] = "never",
) -> None:
    """Compare each model version's expected calibration error between two windows."""
    from workbench.monitor.calibration import calibration_drift
    from workbench.monitor.history import write_monitoring
    from workbench.store import connect

    _check_fail_on(fail_on)
    model_name, model_version = resolve_model(model, version)
    store = connect()
    report = calibration_drift(
        store, reference, current, model_name, model_version, truth, target, as_of
    )
    show_table(report.results, strings_only=True)
    for note in report.notes:
        typer.echo(f"note: {printable(note)}")
    typer.echo(f"calibration {report.verdict}")
    if write and not report.results.empty:
        rows = write_monitoring(store, report)
        typer.echo(f"{rows} rows written to monitoring")
    _fail(report.verdict, fail_on)


@app.command("history")
def history(
    kind: Annotated[
        str | None, typer.Option(help="drift, calibration or performance (default: all).")
    ] = None,
    scope: Annotated[str | None, typer.Option(help="Only this scope (ip features ...).")] = None,
    subject: Annotated[
        str | None, typer.Option(help="Comma-separated subjects (features, score ...).")
    ] = None,
    metric: Annotated[str, typer.Option(help="Metric to follow (psi, ece, pr_auc ...).")] = "psi",
    model: Annotated[str | None, typer.Option(help="Only rows of this model.")] = None,
    since: Annotated[str | None, typer.Option(help="Only runs since this time, UTC.")] = None,
    last: Annotated[int, typer.Option(help="Runs shown per subject.")] = 5,
) -> None:
    """Show the trend of a metric over the last runs, one row per subject."""
    from workbench.monitor.history import monitoring_history, trend
    from workbench.store import connect

    subjects = [s.strip() for s in subject.split(",") if s.strip()] if subject else None
    store = connect()
    rows = monitoring_history(
        store, kind=kind, scope=scope, subjects=subjects, metric=metric, model=model, since=since
    )
    table = trend(rows, last)
    show_table(table.drop(columns=["Metric"]), strings_only=True)
    runs = rows["RunID"].nunique() if len(rows) else 0
    typer.echo(f"{metric}: {len(table)} series from {runs} runs")
