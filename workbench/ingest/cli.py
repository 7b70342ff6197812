"""``wb ingest FORMAT PATH...``: load log files into the store, one subcommand per format."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workbench.errors import InputError
from workbench.ingest.loader import ingest
from workbench.store.connection import connect

app = typer.Typer(
    help=(
        "Load real log files into the store. Every record is loaded or quarantined (table "
        "quarantine, with file, line and reason); the same file is never loaded twice."
    ),
    no_args_is_help=True,
)

Paths = Annotated[
    list[Path], typer.Argument(help="Files to load (.gz accepted).", show_default=False)
]
Table = Annotated[str | None, typer.Option("--table", help="Target table (default: the format's).")]
Label = Annotated[
    str | None, typer.Option("--label", help="Set the label column of every row to this value.")
]
Progress = Annotated[
    bool, typer.Option("--progress/--no-progress", help="Progress bars on stderr.")
]


def parse_mapping(pairs: list[str] | None) -> dict[str, str]:
    """Parse ``--map src=dst`` options.

    Parameters
    ----------
    pairs : list of str or None
        Values given to ``--map``.

    Returns
    -------
    dict
        File column to table column.

    Raises
    ------
    InputError
        When a value is not ``src=dst`` or a file column is mapped twice.
    """
    mapping: dict[str, str] = {}
    for pair in pairs or []:
        src, eq, dst = pair.partition("=")
        if not eq or not src or not dst:
            raise InputError(f"--map expects file_column=table_column, got {pair!r}")
        if src in mapping:
            raise InputError(f"--map: file column {src!r} is mapped twice")
        mapping[src] = dst
    return mapping


def _run(fmt: str, paths: list[Path], progress: bool, **options) -> None:
    store = connect()
    result = ingest(store, fmt, paths, progress=progress, **options)
    typer.echo(result.summary())


@app.command("logpush")
def ingest_logpush(
    paths: Paths, table: Table = None, label: Label = None, progress: Progress = True
) -> None:
    """Cloudflare Logpush http_requests NDJSON (RFC 3339 / unix s / unix ns timestamps)."""
    _run("logpush", paths, progress, table=table, label=label)


@app.command("access-log")
def ingest_access_log(
    paths: Paths, table: Table = None, label: Label = None, progress: Progress = True
) -> None:
    """Apache / nginx access logs, combined or common log format."""
    _run("access-log", paths, progress, table=table, label=label)


@app.command("http-dump")
def ingest_http_dump(
    paths: Paths, table: Table = None, label: Label = None, progress: Progress = True
) -> None:
    """Raw HTTP request dumps such as CSIC 2010 (use --label normal or --label anomalous)."""
    _run("http-dump", paths, progress, table=table, label=label)


@app.command("payload-csv")
def ingest_payload_csv(
    paths: Paths,
    table: Table = None,
    split: Annotated[
        str | None,
        typer.Option(help="Value of Split (default: train/test/validation from the file name)."),
    ] = None,
    progress: Progress = True,
) -> None:
    """Labelled payload CSV (payload,length,attack_type,label) into the payloads table."""
    _run("payload-csv", paths, progress, table=table, split=split)


@app.command("auth-log")
def ingest_auth_log(
    paths: Paths,
    table: Table = None,
    label: Label = None,
    year: Annotated[
        int | None,
        typer.Option(
            help="Year of the first line, for syslog dates without one (default: this year)."
        ),
    ] = None,
    progress: Progress = True,
) -> None:
    """Linux auth logs (sshd, sudo, PAM ... syslog lines) into auth_events."""
    _run("auth-log", paths, progress, table=table, label=label, year=year)


MapOption = Annotated[
    list[str] | None,
    typer.Option("--map", help="file_column=table_column (repeat); same names map themselves."),
]


@app.command("csv")
def ingest_csv(
    paths: Paths,
    table: Annotated[str, typer.Option("--table", help="Target table.")],
    mapping: MapOption = None,
    label: Label = None,
    progress: Progress = True,
) -> None:
    """CSV with a header into any table, values converted to the table's column types."""
    _run("csv", paths, progress, table=table, label=label, mapping=parse_mapping(mapping))


@app.command("parquet")
def ingest_parquet(
    paths: Paths,
    table: Annotated[str, typer.Option("--table", help="Target table.")],
    mapping: MapOption = None,
    label: Label = None,
    progress: Progress = True,
) -> None:
    """Parquet into any table, values converted to the table's column types."""
    _run("parquet", paths, progress, table=table, label=label, mapping=parse_mapping(mapping))
