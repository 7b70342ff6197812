"""The main job (``make demo`` / ``wb demo``): store, data, and what has been built on them.

Each step says what it does and how long it took; the demo ends with a summary of the data.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import typer

from workbench.config import settings
from workbench.detect import resolve_window
from workbench.errors import WorkbenchError
from workbench.samples import load_samples
from workbench.store import connect


def _step(title: str, action: Callable[[], Any]) -> Any:
    typer.echo(f"==> {title}", err=True)
    started = time.perf_counter()
    result = action()
    typer.echo(f"    done in {time.perf_counter() - started:.1f} s", err=True)
    return result


def _wb(*argv: str) -> None:
    """Run a ``wb`` command in this process and stop the demo if it fails."""
    from workbench.cli import main

    code = main(list(argv))
    if code:
        raise WorkbenchError(f"`wb {' '.join(argv)}` failed with exit status {code}")


def _keep_previous(folder: Path) -> Path | None:
    """Move the last demo's model aside so the model report compares the two versions."""
    previous = folder.with_name(f"{folder.name}-previous")
    if not folder.exists():
        return previous if previous.exists() else None
    if previous.exists():
        shutil.rmtree(previous)
    folder.rename(previous)
    return previous


def _worst_entity(first: str, last: str, model: str) -> dict[str, Any]:
    """Return the IP the bot model scores as most automated (ties: more errors, requests)."""
    with connect() as store:
        worst = store.run("worst_entities", model=model, start=first, end=last, limit=1)
    if worst.empty:
        raise WorkbenchError(f"the model {model} scored no IP between {first} and {last}")
    return worst.iloc[0].to_dict()


def run_demo() -> dict[str, Any]:
    """Load the samples, detect and triage, train, score, and render every report.

    Returns
    -------
    dict
        What the demo produced (rows loaded, the data window, the worst entity, the report
        index).
    """
    started = time.perf_counter()
    store = _step("initialise the store", connect)
    typer.echo(f"    {store.describe()}", err=True)
    loaded = _step("load data_samples/ (skipped when already loaded)", lambda: load_samples(store))
    for table, rows in loaded.items():
        typer.echo(
            f"    {table}: {rows:,} rows loaded" if rows else f"    {table}: already loaded",
            err=True,
        )
    window = store.run("data_window")
    typer.echo("\nRequest data:")
    typer.echo(window.to_string(index=False))
    typer.echo("\nRequests by ground-truth label and actor:")
    typer.echo(
        store.query_df(
            "SELECT label, actor, count() AS requests, uniqExact(ClientIP) AS ips "
            "FROM http_requests GROUP BY label, actor ORDER BY requests DESC"
        ).to_string(index=False)
    )
    typer.echo("\nTop fingerprints (JA4) by volume:")
    typer.echo(store.run("top_entities", entity_column="JA4", limit=5).to_string(index=False))
    typer.echo("\nAuthentication events:")
    typer.echo(
        store.query_df(
            "SELECT EventType, countIf(label = 'normal') AS normal, countIf(label = 'attack') AS attack "
            "FROM auth_events GROUP BY EventType ORDER BY EventType"
        ).to_string(index=False)
    )
    first_at = window["first_request"][0].floor("D")
    last_at = (window["last_request"][0] + pd.Timedelta(milliseconds=1)).ceil("D")
    middle_at = first_at + (last_at - first_at) / 2
    first, middle, last = (t.strftime("%Y-%m-%d %H:%M:%S") for t in (first_at, middle_at, last_at))
    detection = resolve_window(store)  # the window `wb alerts build` uses by default
    auth_first, auth_last = (t.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
                             for t in (detection.start, detection.end))  # fmt: skip
    store.close()  # the commands and the report kernels open the store themselves

    _step(
        "detect: behaviour analytics on auth events",
        lambda: _wb("alerts", "build", "--no-progress"),
    )
    _step("triage alerts into incidents", lambda: _wb("alerts", "triage"))

    models = settings().models_dir / "demo"
    bot, cnn = models / "bot-ip", models / "cnn-bot"
    previous = _keep_previous(bot)
    span = ("--start", first, "--end", last)
    _step(f"train the bot model per IP (LightGBM) into {bot}",
          lambda: _wb("train", "tabular", *span, "--out", str(bot)))  # fmt: skip
    _step(
        f"train the request char-CNN (bot head) into {cnn}",
        lambda: _wb("train", "charcnn", "--head", "bot", *span, "--max-rows", "20000",
                    "--epochs", "2", "--out", str(cnn), "--overwrite"),
    )  # fmt: skip
    for lo, hi in ((first, middle), (middle, last)):  # the monitor compares the two halves
        _step(f"score every IP from {lo} to {hi}",
              lambda lo=lo, hi=hi: _wb("score", "--model", str(bot), "--start", lo, "--end", hi))  # fmt: skip
    _step("score every request of the window", lambda: _wb("score", "--model", str(cnn), *span))
    worst = _worst_entity(first, last, "bot-ip")
    typer.echo(
        f"    most automated IP: {worst['entity']} (score {worst['score']}, "
        f"{worst['requests']:,} requests, {worst['error_responses']:,} errors)",
        err=True,
    )

    reports: list[tuple[str, list[str]]] = [
        ("traffic_overview", [f"start={first}", f"end={last}"]),
        ("model_report", [f"model={bot}", f"previous={previous or ''}"]),
        ("investigate", [f"entity={worst['entity']}", "entity_kind=ip", f"start={first}",
                         f"end={last}", f"model={bot}", f"text_model={cnn}"]),
        ("triage", [f"start={auth_first}", f"end={auth_last}"]),
        ("monitor", [f"reference_start={first}", f"reference_end={middle}", f"start={middle}",
                     f"end={last}", f"model={bot}", "truth=ground_truth"]),
    ]  # fmt: skip
    for name, params in reports:
        argv = [arg for p in params for arg in ("-p", p)]
        _step(f"render the {name} report", lambda n=name, a=argv: _wb("report", "run", n, *a))
    index = settings().reports_dir / "index.html"
    with connect() as store:
        typer.echo("\nTables:")
        typer.echo(store.run("table_rows").to_string(index=False))
    typer.echo(f"\nDemo finished in {time.perf_counter() - started:.0f} s.")
    typer.echo(f"Reports: {index}")
    return {"loaded": loaded, "window": window.to_dict("records"), "worst": worst,
            "index": str(index)}  # fmt: skip
