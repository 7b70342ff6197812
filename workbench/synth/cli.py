"""``wb synth``: write labelled synthetic data into the store."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from workbench.errors import InputError

app = typer.Typer(help="Generate labelled synthetic data into the store.", no_args_is_help=True)


@app.callback()
def synth() -> None:
    """Generate labelled synthetic data into the store."""


@app.command("traffic")
def traffic(
    requests: Annotated[
        int, typer.Option("--requests", "-n", help="Requests to generate.")
    ] = 100_000,
    days: Annotated[float, typer.Option(help="Length of the time window in days.")] = 2.0,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same rows.")] = 0,
    start: Annotated[
        str, typer.Option(help="Window start, ISO 8601 (UTC unless a zone is given).")
    ] = "2026-11-01T00:00:00Z",
    chunk_rows: Annotated[int, typer.Option(help="Rows per insert.")] = 500_000,
    replace: Annotated[
        bool, typer.Option(help="First delete the rows an earlier run with this seed wrote.")
    ] = True,
    progress: Annotated[bool, typer.Option(help="Show a progress bar on stderr.")] = True,
) -> None:
    """Write labelled synthetic HTTP requests (humans, good bots, bad bots) to http_requests."""
    from workbench.store import connect
    from workbench.synth.traffic import parse_start, write_traffic

    if requests <= 0:
        raise InputError(f"--requests must be positive, got {requests}")
    when = parse_start(start)
    store = connect()
    began = time.perf_counter()
    rows = write_traffic(store, requests, days=days, seed=seed, start=when, chunk_rows=chunk_rows,
                         replace=replace, progress=progress)  # fmt: skip
    seconds = time.perf_counter() - began
    typer.echo(
        f"wrote {rows:,} requests (seed {seed}, {days:g} days from {when.isoformat()}) to "
        f"http_requests in {store.describe()} in {seconds:.1f} s"
    )


@app.command("auth")
def auth(
    users: Annotated[int, typer.Option(help="User accounts to simulate.")] = 500,
    days: Annotated[int, typer.Option(help="Length of the window in days.")] = 14,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same rows.")] = 0,
    start: Annotated[
        str | None, typer.Option(help="First day, UTC (default 2026-11-01, as for traffic).")
    ] = None,
    incident_scale: Annotated[
        float, typer.Option(help="Multiplier on incident rates; 0 for none.")
    ] = 1.0,
    clean_days: Annotated[
        int, typer.Option(help="Days at the start with no incidents (a reference window).")
    ] = 0,
    replace: Annotated[
        bool, typer.Option(help="First delete the rows an earlier run with this seed wrote.")
    ] = True,
    progress: Annotated[bool, typer.Option(help="Show a progress bar on stderr.")] = True,
) -> None:
    """Write sign-ins with personal habits and labelled incidents to auth_events."""
    from workbench.store import connect
    from workbench.synth.auth import incident_counts, write_auth_events

    counts = incident_counts(users, days, incident_scale)  # checks sizes before connecting
    store = connect()
    began = time.perf_counter()
    rows = write_auth_events(store, users, days, seed, start=start, incident_scale=incident_scale,
                             clean_days=clean_days, replace=replace, progress=progress)  # fmt: skip
    seconds = time.perf_counter() - began
    incidents = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n) or "none"
    typer.echo(
        f"wrote {rows:,} auth events (seed {seed}, {users} users, {days} days) to auth_events "
        f"in {store.describe()} in {seconds:.1f} s; incidents: {incidents}"
    )
