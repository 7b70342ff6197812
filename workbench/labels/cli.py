"""``wb labels``: what to label next, CSV import, listing, and the active-learning experiment."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workbench.labels.queue import STRATEGIES
from workbench.terminal import Window, show_table

app = typer.Typer(
    help="Analyst labels: active-learning queue, CSV import, listing, strategy experiment.",
    no_args_is_help=True,
)


def _check_strategy(strategy: str) -> str:
    from workbench.errors import InputError

    if strategy not in STRATEGIES:
        raise InputError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    return strategy


@app.command("queue")
def queue(
    model: Annotated[Path, typer.Option(help="Saved tabular entity model folder.")],
    window: Window,
    k: Annotated[int, typer.Option(help="How many entities to propose.")] = 50,
    strategy: Annotated[str, typer.Option(help=f"One of {', '.join(STRATEGIES)}.")] = (
        "uncertainty"
    ),
    seed: Annotated[int, typer.Option(help="Seed of random choices and ties.")] = 0,
    out: Annotated[Path | None, typer.Option(help="Also write the queue to this CSV.")] = None,
) -> None:
    """Pick the entities to label next with a saved model, skipping labelled ones."""
    from workbench.labels.queue import build_queue
    from workbench.store import connect

    store = connect()
    try:
        frame = build_queue(
            store, model, window[0], window[1], k=k, strategy=_check_strategy(strategy), seed=seed
        )
    finally:
        store.close()
    if out is not None:
        frame.to_csv(out, index=False)
    keep = [c for c in frame.columns[:4]] + [c for c in frame.columns if c == "score"]
    show_table(frame[list(dict.fromkeys(keep))])


@app.command("import")
def import_csv(
    file: Annotated[Path, typer.Argument(help="CSV with entity, verdict, analyst, note, time.")],
    entity_type: Annotated[str, typer.Option(help="Entity kind of the entity column.")] = "ip",
    analyst: Annotated[
        str | None, typer.Option(help="Analyst for rows without an analyst column value.")
    ] = None,
    strict: Annotated[bool, typer.Option(help="Refuse the file if any row is bad.")] = False,
) -> None:
    """Import analyst verdicts from a CSV file into the labels table."""
    from workbench.labels.importer import import_labels_csv
    from workbench.store import connect

    store = connect()
    try:
        result = import_labels_csv(store, file, entity_type, analyst=analyst, strict=strict)
    finally:
        store.close()
    typer.echo(result.describe())


@app.command("list")
def list_labels(
    entity_type: Annotated[str, typer.Option(help="Entity kind.")] = "ip",
    all_rows: Annotated[
        bool, typer.Option("--all", help="Every label, not only each entity's latest.")
    ] = False,
    analyst: Annotated[str | None, typer.Option(help="Only this analyst's labels.")] = None,
    limit: Annotated[int, typer.Option(help="Rows shown at most.")] = 50,
) -> None:
    """List labels, newest first."""
    from workbench.labels.store import read_labels
    from workbench.store import connect

    store = connect()
    try:
        frame = read_labels(store, entity_type, latest=not all_rows, analyst=analyst)
    finally:
        store.close()
    cols = ["LabelTime", "Entity", "Verdict", "Analyst", "Source", "Model", "Note"]
    typer.echo(f"{len(frame)} labels")
    show_table(frame[cols].head(limit))


@app.command("experiment")
def experiment(
    window: Window,
    entity: Annotated[str, typer.Option(help="Entity kind.")] = "ip",
    strategy: Annotated[
        list[str] | None, typer.Option(help="Strategy to compare (repeat); all by default.")
    ] = None,
    seeds: Annotated[int, typer.Option(help="Number of seeds (0, 1, ...).")] = 3,
    initial: Annotated[int, typer.Option(help="Labels before the first round.")] = 10,
    k: Annotated[int, typer.Option(help="Labels per round.")] = 10,
    rounds: Annotated[int, typer.Option(help="Query rounds.")] = 8,
    out: Annotated[
        Path | None, typer.Option(help="Write the tidy curves (.csv) and figure (.html) here.")
    ] = None,
) -> None:
    """Simulate an analyst answering from ground truth; PR-AUC against labels per strategy."""
    from workbench.labels.experiment import experiment_from_store
    from workbench.store import connect

    strategies = [_check_strategy(s) for s in (strategy or STRATEGIES)]
    store = connect()
    try:
        result = experiment_from_store(
            store,
            window[0],
            window[1],
            entity=entity,
            strategies=strategies,
            seeds=tuple(range(seeds)),
            initial=initial,
            k=k,
            rounds=rounds,
            progress=True,
        )
    finally:
        store.close()
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        result.frame.to_csv(out / "learning_curves.csv", index=False)
        result.figure().write_html(out / "learning_curves.html", include_plotlyjs=True)
    show_table(result.table())
    head = result.headline()
    reached = head["labels_to_reach"]
    typer.echo(
        f"every pool entity labelled: PR-AUC {head['full_pr_auc']:.4f}; best strategy "
        f"{head['best_strategy']}: "
        + (
            f"{reached} labels to reach {head['share']:.0%} of it"
            if reached is not None
            else f"{head['share']:.0%} of it not reached within {head['label_budget']} labels"
        )
    )
