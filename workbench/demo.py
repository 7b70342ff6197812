"""The main job (``make demo`` / ``wb demo``): store, data, and what has been built on them.

Each step says what it does and how long it took; the demo ends with a summary of the data.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pandas as pd
import typer

from workbench.config import settings
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
    from workbench.errors import WorkbenchError

    code = main(list(argv))
    if code:
        raise WorkbenchError(f"`wb {' '.join(argv)}` failed with exit status {code}")


def run_demo() -> dict[str, Any]:
    """Load the samples, summarise them, detect and triage, and render the traffic report.

    Returns
    -------
    dict
        What the demo produced (rows loaded, the data window, the report index).
    """
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
    first = window["first_request"][0].strftime("%Y-%m-%d %H:%M:%S")
    last = (window["last_request"][0] + pd.Timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S")
    store.close()  # the commands and the report kernel open the store themselves

    _step(
        "detect: behaviour analytics on auth events",
        lambda: _wb("alerts", "build", "--no-progress"),
    )
    _step("triage alerts into incidents", lambda: _wb("alerts", "triage"))
    _step(
        "render the traffic overview report",
        lambda: _wb(
            "report", "run", "traffic_overview", "-p", f"start={first}", "-p", f"end={last}"
        ),
    )
    index = settings().reports_dir / "index.html"
    with connect() as store:
        typer.echo("\nTables:")
        typer.echo(store.run("table_rows").to_string(index=False))
    typer.echo(f"\nReports: {index}")
    return {"loaded": loaded, "window": window.to_dict("records"), "index": str(index)}
