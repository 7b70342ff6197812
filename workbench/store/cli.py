"""``wb db`` and ``wb query``: the store and the named-query library from the shell."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workbench.config import settings
from workbench.errors import InputError
from workbench.store.connection import connect
from workbench.store.library import default_library
from workbench.store.schema import apply_schema, ddl_statements

db_app = typer.Typer(help="Create and inspect the ClickHouse store.", no_args_is_help=True)
query_app = typer.Typer(help="List, show and run named queries.", no_args_is_help=True)


@db_app.command("init")
def db_init() -> None:
    """Create every workbench table that does not exist yet (safe to repeat)."""
    store = connect(ensure_schema=False)
    tables = apply_schema(store, cluster=settings().clickhouse_cluster)
    typer.echo(f"schema ready in {store.describe()}: {', '.join(tables)}")


@db_app.command("ddl")
def db_ddl(
    cluster: Annotated[
        str | None, typer.Option(help="Emit ON CLUSTER DDL for this cluster name.")
    ] = None,
) -> None:
    """Print the DDL that `wb db init` runs (replicated + Distributed with --cluster)."""
    for statement in ddl_statements(cluster or settings().clickhouse_cluster):
        typer.echo(statement.rstrip(";") + ";\n")


@db_app.command("status")
def db_status() -> None:
    """Show where the store is and how many rows each table holds."""
    store = connect()
    typer.echo(store.describe())
    typer.echo(store.run("table_rows").to_string(index=False))


@query_app.command("list")
def query_list() -> None:
    """List the named queries with their families and descriptions."""
    for q in default_library().queries():
        typer.echo(f"{q.family + '/' + q.name:<36} {q.description}")


@query_app.command("show")
def query_show(name: Annotated[str, typer.Argument(help="Query name.")]) -> None:
    """Show a named query: its parameters, types, defaults, and SQL."""
    q = default_library().get(name)
    typer.echo(f"{q.family}/{q.name}: {q.description}\n")
    for param, ch_type in q.params.items():
        default = f" (default: {q.defaults[param]!r})" if param in q.defaults else " (required)"
        doc = f" - {q.docs[param]}" if param in q.docs else ""
        typer.echo(f"  {param}: {ch_type}{default}{doc}")
    typer.echo("\n" + q.sql)


def parse_params(pairs: list[str]) -> dict[str, str]:
    """Parse ``key=value`` strings into a dict.

    Parameters
    ----------
    pairs : list of str
        Strings as given to ``-p``.

    Returns
    -------
    dict
        Keys to values (values keep any further ``=``).

    Raises
    ------
    InputError
        When a string has no ``=`` or an empty key.
    """
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"parameter {pair!r} must look like key=value")
        out[key.strip()] = value
    return out


@query_app.command("run")
def query_run(
    name: Annotated[str, typer.Argument(help="Query name.")],
    param: Annotated[
        list[str] | None, typer.Option("-p", "--param", help="key=value, repeatable.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write the result to FILE.parquet or FILE.csv.")
    ] = None,
    max_rows: Annotated[int, typer.Option(help="Rows to print when not writing a file.")] = 50,
) -> None:
    """Run a named query with parameters and print or save the result."""
    if out is not None and out.suffix.lower() not in (".parquet", ".csv"):
        raise InputError(f"--out must end in .parquet or .csv, got {out.name!r}")
    store = connect()
    table = store.run_arrow(name, **parse_params(param or []))
    if out is None:
        frame = table.slice(0, max_rows).to_pandas()
        typer.echo(frame.to_string(index=False, max_colwidth=60) if len(frame) else "(no rows)")
        if table.num_rows > max_rows:
            typer.echo(f"... {table.num_rows} rows in all; use --out to save them")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, out)
    else:
        table.to_pandas().to_csv(out, index=False)
    typer.echo(f"wrote {table.num_rows} rows to {out}")
