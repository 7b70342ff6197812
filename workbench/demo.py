"""The main job (``make demo`` / ``wb demo``): store, data, and what has been built on them.

Each step says what it does and how long it took; the demo ends with a summary of the data.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import typer

from workbench.samples import load_samples
from workbench.store import connect


def _step(title: str, action: Callable[[], Any]) -> Any:
    typer.echo(f"==> {title}", err=True)
    started = time.perf_counter()
    result = action()
    typer.echo(f"    done in {time.perf_counter() - started:.1f} s", err=True)
    return result


def run_demo() -> dict[str, Any]:
    """Initialise the embedded store, load the samples and print a summary.

    Returns
    -------
    dict
        What the demo produced (rows loaded, the data window).
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
    typer.echo("\nTables:")
    typer.echo(store.run("table_rows").to_string(index=False))
    store.close()
    return {"loaded": loaded, "window": window.to_dict("records")}
