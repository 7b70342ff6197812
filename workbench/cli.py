"""The ``wb`` command: one subcommand group per package, errors as one line and an exit code."""

from __future__ import annotations

import sys

import typer

from workbench.detect.cli import app as alerts_app
from workbench.errors import WorkbenchError
from workbench.features.cli import app as features_app
from workbench.ingest.cli import app as ingest_app
from workbench.labels.cli import app as labels_app
from workbench.models.cli import score as score_command
from workbench.models.cli import train_app
from workbench.monitor.cli import app as monitor_app
from workbench.reporting.cli import app as report_app
from workbench.store.cli import db_app, query_app
from workbench.synth.cli import app as synth_app

app = typer.Typer(
    help="Security ML workbench for web traffic: store, data, features, models, reports.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db_app, name="db")
app.add_typer(query_app, name="query")
app.add_typer(synth_app, name="synth")
app.add_typer(ingest_app, name="ingest")
app.add_typer(features_app, name="features")
app.add_typer(alerts_app, name="alerts")
app.add_typer(report_app, name="report")
app.add_typer(monitor_app, name="monitor")
app.add_typer(train_app, name="train")
app.add_typer(labels_app, name="labels")
app.command("score")(score_command)


@app.command("demo")
def demo() -> None:
    """Run the main job: store, sample data, and a summary of what is in it."""
    from workbench.demo import run_demo

    run_demo()


def main(argv: list[str] | None = None) -> int:
    """Run ``wb`` and return its exit status.

    Errors the workbench raises on purpose print one line on stderr and exit non-zero;
    anything else is a bug and keeps its traceback.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (``sys.argv[1:]`` by default).

    Returns
    -------
    int
        The exit status.
    """
    try:
        # standalone mode lets typer print usage errors its own way and exit with their code
        app(args=argv, standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except WorkbenchError as exc:
        typer.echo(f"wb: error: {exc}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        typer.echo("wb: interrupted", err=True)
        return 130
    return 0


def run() -> None:
    """Console-script entry point: exit with :func:`main`'s status."""
    sys.exit(main())


if __name__ == "__main__":
    run()
