"""``wb features``: list the feature registry and build entity features into a file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from workbench.errors import InputError
from workbench.features.entity import (
    build_entity_features,
    entity_features_sql,
    to_utc,
    write_entity_features,
)
from workbench.features.registry import ENTITY_KINDS, FEATURES, EntityKind, resolve_entity
from workbench.store.base import Store
from workbench.store.connection import connect
from workbench.store.identifiers import check_identifier

app = typer.Typer(
    help="Entity features computed in ClickHouse: list the registry, build feature tables.",
    no_args_is_help=True,
)

_KIND_NAMES = ", ".join(ENTITY_KINDS)


def _entities_cell(entity: tuple[str, ...]) -> str:
    request_kinds = [k for k, v in ENTITY_KINDS.items() if v.table == "http_requests"]
    if set(entity) == set(request_kinds):
        return "all request entities"
    missing = [k for k in request_kinds if k not in entity]
    if set(entity) <= set(request_kinds) and len(missing) <= 2:
        return "request entities except " + ", ".join(missing)
    return ", ".join(entity)


@app.command("list")
def list_features(
    entity: Annotated[
        str | None,
        typer.Option(help=f"Only features of this entity ({_KIND_NAMES} or a column name)."),
    ] = None,
    long: Annotated[bool, typer.Option("--long", "-l", help="Show the SQL expressions.")] = False,
) -> None:
    """Print the feature registry: name, unit, entities it applies to, definition."""
    kind = resolve_entity(entity) if entity else None
    typer.echo("Entities:")
    for k in ENTITY_KINDS.values():
        typer.echo(f"  {k.name:<11} {', '.join(k.keys):<34} {k.table}: {k.description}")
    typer.echo("")
    shown = [f for f in FEATURES.values() if kind is None or kind.name in f.entity]
    typer.echo(f"{'feature':<26} {'unit':<16} {'entities':<42} definition")
    for f in shown:
        typer.echo(f"{f.name:<26} {f.unit:<16} {_entities_cell(f.entity):<42} {f.description}")
        if long:
            typer.echo(f"{'':<26} = {f.expression}")
    typer.echo(f"\n{len(shown)} features")


def _parse_features(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise InputError("--features is empty; give comma-separated feature names")
    return names


def _default_window(store: Store, kind: EntityKind) -> tuple[dt.datetime, dt.datetime]:
    window = store.query_df(
        "SELECT count() AS n, min({t:Identifier}) AS lo, max({t:Identifier}) AS hi "
        "FROM {table:Identifier}",
        {"t": check_identifier(kind.time_column), "table": check_identifier(kind.table)},
    )
    if int(window["n"].iloc[0]) == 0:
        raise InputError(f"table {kind.table} is empty: nothing to build features from")
    end = to_utc(window["hi"].iloc[0]) + dt.timedelta(milliseconds=1)
    return to_utc(window["lo"].iloc[0]), end


@app.command("build")
def build(
    entity: Annotated[
        str, typer.Option(help=f"Entity kind ({_KIND_NAMES}) or its column (ClientIP ...).")
    ],
    start: Annotated[
        str | None,
        typer.Option(help="Window start, UTC, inclusive (ISO-8601); default: first row."),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(help="Window end, UTC, exclusive (ISO-8601); default: just after last row."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Write all rows to FILE.parquet or FILE.csv (streamed, bounded memory)."),
    ] = None,
    features: Annotated[
        str | None, typer.Option(help="Comma-separated feature names (default: all).")
    ] = None,
    max_rows: Annotated[int, typer.Option(help="Rows to print when not writing a file.")] = 20,
    show_sql: Annotated[bool, typer.Option(help="Print the generated SQL first.")] = False,
) -> None:
    """Compute entity features over a window in ClickHouse: one row per entity."""
    kind = resolve_entity(entity)
    names = _parse_features(features)
    sql = entity_features_sql(kind, names)  # checks the feature names before connecting
    if out is not None and out.suffix.lower() not in (".parquet", ".csv"):
        raise InputError(f"--out must end in .parquet or .csv, got {out.name!r}")
    if show_sql:
        typer.echo(sql + "\n", err=True)
    store = connect()
    if start is None or end is None:
        lo, hi = _default_window(store, kind)
        start = start if start is not None else lo
        end = end if end is not None else hi
    if out is not None:
        rows = write_entity_features(store, kind, start, end, out, names, progress=True)
        typer.echo(f"wrote {rows} {kind.name} rows to {out}")
        return
    frame = build_entity_features(store, kind, start, end, names)
    if frame.empty:
        typer.echo("(no entities in the window)")
        return
    typer.echo(frame.head(max_rows).to_string(index=False, max_colwidth=40))
    if len(frame) > max_rows:
        typer.echo(f"... {len(frame)} rows in all; use --out to save them")
