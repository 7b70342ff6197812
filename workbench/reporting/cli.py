"""``wb report``: run templates, list runs, run what is due, print the crontab line."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Annotated

import typer

from workbench.errors import ReportError

app = typer.Typer(help="Parameterized notebook reports: run, list, schedule.", no_args_is_help=True)

_DEFAULT_SCHEDULES = Path("schedules.yaml")


def _now(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    from workbench.timespec import parse_time

    return parse_time(value, dt.datetime.now(dt.UTC), "--now")


@app.command("run")
def run(
    name: Annotated[
        str, typer.Argument(help="Template name (notebooks/reports/NAME.ipynb) or a path.")
    ],
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            help="key=value; repeat for several. Windows may be relative: -p start=-24h.",
        ),
    ] = None,
    redact: Annotated[
        bool,
        typer.Option(
            "--redact", help="Pseudonymize IPs, e-mails and accounts (key in WB_REDACT_KEY)."
        ),
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Reports folder (default WB_REPORTS_DIR or ./reports)."),
    ] = None,
    start_timeout: Annotated[float, typer.Option(help="Kernel start-up timeout, seconds.")] = 60.0,
    cell_timeout: Annotated[float, typer.Option(help="Per-cell timeout, seconds.")] = 900.0,
) -> None:
    """Run one report: execute the template, render its HTML, update the index."""
    from workbench.reporting.params import parse_assignments
    from workbench.reporting.runner import run_report

    values = parse_assignments(param or [])
    stop = threading.Event()
    ticker = threading.Thread(target=_tick, args=(name, stop), daemon=True)
    ticker.start()
    try:
        result = run_report(
            name, values, redact=redact, reports_dir=out,
            start_timeout_s=start_timeout, cell_timeout_s=cell_timeout,
        )  # fmt: skip
    finally:
        stop.set()
        ticker.join()
    record = result.record
    for warning in record.warnings:
        typer.echo(f"wb: warning: {warning}", err=True)  # our own text
    typer.echo(f"{record.status}: {result.html_path} ({record.duration_s:.1f} s)")
    if not result.ok:
        from workbench.viz import visible  # the error may quote data: no terminal escapes

        raise ReportError(
            visible(f"report {record.name} failed: {record.error}; see {result.html_path}")
        )


def _tick(name: str, stop: threading.Event) -> None:
    """Show elapsed time on stderr while a report runs (a notebook has no known length)."""
    from tqdm import tqdm

    bar_format = "{desc}: {elapsed}"
    with tqdm(desc=f"report {name}", bar_format=bar_format, leave=False, disable=None) as bar:
        while not stop.wait(0.5):
            bar.refresh()


@app.command("list")
def list_runs(
    out: Annotated[Path | None, typer.Option("--out", help="Reports folder.")] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many runs.")] = 20,
    name: Annotated[str | None, typer.Option(help="Only runs of this template.")] = None,
) -> None:
    """List report runs, newest first: time, status, duration, name, headline, HTML file."""
    from workbench.config import settings
    from workbench.reporting.runs import load_runs
    from workbench.viz import visible  # values come from data: no terminal escapes

    root = out or settings().reports_dir
    runs = [r for r in load_runs(root) if name is None or r.name == name][: max(limit, 0)]
    if not runs:
        typer.echo(f"no report runs in {root}")
        return
    for r in runs:
        headline = ", ".join(f"{k}={v}" for k, v in r.headline.items())
        started = r.started.replace("T", " ")[:19]
        line = f"{started}  {r.status:<7} {r.duration_s:7.1f} s  {r.name}  {headline}"
        typer.echo(visible(line.rstrip()))
        typer.echo(f"    {Path(root) / r.name / r.run_id / r.html}")


@app.command("due")
def due(
    schedules: Annotated[Path, typer.Option(help="The schedules file.")] = _DEFAULT_SCHEDULES,
    now: Annotated[str | None, typer.Option(help="Pretend it is this time (ISO 8601 UTC).")] = None,
    workers: Annotated[int, typer.Option(help="Reports run at once.")] = 1,
    out: Annotated[Path | None, typer.Option("--out", help="Reports folder.")] = None,
) -> None:
    """Run every scheduled job whose latest slot has not run yet (for cron)."""
    from tqdm import tqdm

    from workbench.reporting.schedule import DueRun, run_due
    from workbench.viz import visible

    bar = tqdm(desc="due reports", unit="report", leave=False, disable=None)

    def done(outcome: DueRun) -> None:
        bar.update(1)
        where = outcome.folder or "-"
        line = f"{outcome.status}: {outcome.job} slot {outcome.slot} {where}"
        tqdm.write(visible(line + (f" ({outcome.error})" if outcome.error else "")))

    try:
        outcomes = run_due(schedules, now=_now(now), workers=workers, reports_dir=out, on_done=done)
    finally:
        bar.close()
    if not outcomes:
        typer.echo("nothing due")
    failed = [o for o in outcomes if o.status != "ok"]
    if failed:
        raise ReportError(f"{len(failed)} of {len(outcomes)} due report(s) failed: "
                          + ", ".join(o.job for o in failed))  # fmt: skip


@app.command("schedule")
def schedule(
    schedules: Annotated[Path, typer.Option(help="The schedules file.")] = _DEFAULT_SCHEDULES,
    print_crontab: Annotated[
        bool, typer.Option("--print-crontab", help="Print crontab lines.")
    ] = False,
    every: Annotated[
        str, typer.Option(help="How often cron runs `wb report due`.")
    ] = "*/5 * * * *",
    workers: Annotated[int, typer.Option(help="--workers of the due command.")] = 2,
    out: Annotated[Path | None, typer.Option("--out", help="Reports folder.")] = None,
) -> None:
    """Show the scheduled jobs with their last and next slots, or print crontab lines."""
    from workbench.config import settings
    from workbench.reporting.runs import utc_now
    from workbench.reporting.schedule import crontab_lines, last_claims, load_schedules, next_slot
    from workbench.timespec import format_time

    if print_crontab:
        for line in crontab_lines(schedules, every=every, workers=workers):
            typer.echo(line)
        return
    jobs = load_schedules(schedules)
    claims = last_claims(out or settings().reports_dir)
    now = utc_now()
    for job in jobs:
        last = claims.get(job.name)
        seen = f"{last['slot']} ({last['status']})" if last else "never"
        typer.echo(
            f"{job.name}: {job.cron} -> {job.template}; last slot {seen}; "
            f"next {format_time(next_slot(job.cron, now))}"
        )


@app.command("templates")
def templates() -> None:
    """List the report templates and their parameters."""
    from workbench.reporting.templates import list_templates

    for tmpl in list_templates():
        params = ", ".join(f"{k}={v!r}" for k, v in tmpl.parameters.items())
        typer.echo(f"{tmpl.name}: {tmpl.description}\n    {params}")


@app.command("index")
def index(
    out: Annotated[Path | None, typer.Option("--out", help="Reports folder.")] = None,
) -> None:
    """Rebuild reports/index.html from the run folders."""
    from workbench.config import settings
    from workbench.reporting.index import build_index
    from workbench.reporting.runs import reports_lock

    root = out or settings().reports_dir
    with reports_lock(root):
        typer.echo(str(build_index(root)))
