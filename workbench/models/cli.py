"""``wb train charcnn|tabular|anomaly`` and ``wb score``: the training jobs and batch scoring.

``train_app`` is a typer group (wired as ``wb train``); :func:`score` is one command (wired
as ``wb score``). Both print a short summary on stdout and progress bars on stderr; user
errors are :class:`~workbench.errors.WorkbenchError` (one line, non-zero exit).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from workbench.config import PROJECT_DIR
from workbench.errors import InputError

train_app = typer.Typer(
    help="Train a model from the store (or the HttpParamsDataset) into a model folder.",
    no_args_is_help=True,
)

#: Where ``wb train charcnn --head attack`` finds the HttpParamsDataset by default.
DEFAULT_HTTP_PARAMS = (PROJECT_DIR / ".." / "shared" / "data" / "http_params").resolve()

_Start = Annotated[str, typer.Option(help="Window start, UTC, inclusive (ISO-8601).")]
_End = Annotated[str, typer.Option(help="Window end, UTC, exclusive (ISO-8601).")]
_Out = Annotated[Path, typer.Option(help="Model folder to write, e.g. models/NAME.")]
_Seed = Annotated[int, typer.Option(help="Seed of every random choice (split, model).")]
_Entity = Annotated[str, typer.Option(help="Entity kind: ip, ja4, ja3, user_agent, asn, ip_ua.")]
_Split = Annotated[
    str, typer.Option(help="Split: campaign (default), time, time_campaign or random.")
]
_Overwrite = Annotated[bool, typer.Option(help="Replace an existing model folder.")]
_Features = Annotated[
    str | None, typer.Option(help="Comma-separated feature names (default: all).")
]
_LabelRule = Annotated[
    str, typer.Option(help="Entity is automated when the majority (or any) of its requests are.")
]
_Labels = Annotated[
    str,
    typer.Option(
        "--labels",
        help="Targets from: truth (ground-truth columns), analyst (only entities with an "
        "analyst verdict, latest wins) or both (verdicts override ground truth).",
    ),
]


def _features(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise InputError("--features is empty; give comma-separated feature names")
    return names


def _fmt(value: Any) -> str:
    return "n/a" if value is None else (f"{value:.4f}" if isinstance(value, float) else str(value))


def _summary(metrics: dict[str, Any], folder: Path | None) -> None:
    comparison = metrics.get("comparison", {})
    if comparison:
        first = next(iter(comparison.values()))
        names = list(first)
        typer.echo(f"{'test metric':<14}" + "".join(f"{n:>12}" for n in names))
        for key, values in comparison.items():
            typer.echo(f"{key:<14}" + "".join(f"{_fmt(values[n]):>12}" for n in names))
    targets = metrics.get("targets")
    if targets:
        typer.echo(
            f"targets met: {targets['met']} (PR-AUC >= {targets['pr_auc']['min']}, "
            f"FPR on humans <= {targets['fpr_humans_at_score_below_30']['max']})"
        )
    if folder is not None:
        typer.echo(f"saved {folder}")


def _connect():
    from workbench.store.connection import connect

    return connect()


@train_app.command("tabular")
def train_tabular_cmd(
    start: _Start,
    end: _End,
    out: _Out,
    seed: _Seed = 0,
    entity: _Entity = "ip",
    split: _Split = "campaign",
    features: _Features = None,
    label_rule: _LabelRule = "majority",
    labels: _Labels = "truth",
    compare_backends: Annotated[
        bool, typer.Option(help="Also time scikit-learn's HistGradientBoosting on the split.")
    ] = False,
    overwrite: _Overwrite = False,
) -> None:
    """Gradient-boosted trees (LightGBM) on entity features: bot score 1-99 per entity."""
    from workbench.models.train import train_tabular

    store = _connect()
    try:
        result = train_tabular(
            store,
            start,
            end,
            out,
            entity=entity,
            seed=seed,
            split=split,
            features=_features(features),
            label_rule=label_rule,
            labels=labels,
            compare=compare_backends,
            overwrite=overwrite,
        )
    finally:
        store.close()
    used = result.metrics.get("labels") or {}
    if used.get("source", "truth") != "truth":
        typer.echo(
            f"labels: {used['source']}; {used.get('analyst_labels', 0)} analyst labels used, "
            f"{used.get('overrode_truth', 0)} overrode the ground truth"
        )
    _summary(result.metrics, result.folder)


@train_app.command("anomaly")
def train_anomaly_cmd(
    start: _Start,
    end: _End,
    out: _Out,
    detector: Annotated[str, typer.Option(help="iforest (Isolation Forest) or hbos.")] = "iforest",
    seed: _Seed = 0,
    entity: _Entity = "ip",
    split: _Split = "campaign",
    features: _Features = None,
    label_rule: _LabelRule = "majority",
    z_threshold: Annotated[
        float, typer.Option(help="Anomalous above this robust z of the anomaly score.")
    ] = 3.5,
    calibration: Annotated[
        str,
        typer.Option(help="z (score < 30 exactly when anomalous), or isotonic/platt on labels."),
    ] = "z",
    overwrite: _Overwrite = False,
) -> None:
    """Unsupervised detector (Isolation Forest or HBOS) on entity features, robust-z threshold."""
    from workbench.models.train import train_anomaly

    store = _connect()
    try:
        result = train_anomaly(
            store,
            start,
            end,
            out,
            detector=detector,
            entity=entity,
            seed=seed,
            split=split,
            features=_features(features),
            label_rule=label_rule,
            overwrite=overwrite,
            z_threshold=z_threshold,
            calibration=calibration,
        )
    finally:
        store.close()
    model = result.metrics["model"]
    typer.echo(
        f"{detector}: {model['train_entities']} training entities, "
        f"{model['train_anomaly_share']:.2%} above z {z_threshold}"
    )
    _summary(result.metrics, result.folder)


@train_app.command("charcnn")
def train_charcnn_cmd(
    out: _Out,
    head: Annotated[
        str, typer.Option(help="bot (stored requests) or attack (HttpParamsDataset).")
    ] = "bot",
    start: Annotated[str | None, typer.Option(help="Window start, UTC (stored requests).")] = None,
    end: Annotated[str | None, typer.Option(help="Window end, UTC, exclusive.")] = None,
    seed: _Seed = 0,
    http_params: Annotated[
        Path | None,
        typer.Option(help="HttpParamsDataset folder for --head attack (default: shared data)."),
    ] = None,
    from_store: Annotated[
        bool, typer.Option(help="--head attack: train on stored requests' attack_class instead.")
    ] = False,
    max_rows: Annotated[int, typer.Option(help="Stored requests sampled for training.")] = 60_000,
    split: Annotated[str, typer.Option(help="Split of stored requests: time or random.")] = "time",
    epochs: Annotated[int, typer.Option(help="Most epochs (early stopping on validation).")] = 20,
    overwrite: _Overwrite = False,
) -> None:
    """Character-level CNN on request text: bot head (requests) or attack head (payloads)."""
    from workbench.models.train_cnn import train_charcnn

    params: dict[str, Any] = {"seed": seed, "epochs": epochs, "overwrite": overwrite}
    if head == "attack" and not from_store:
        folder = http_params or DEFAULT_HTTP_PARAMS
        if not folder.is_dir():
            raise InputError(f"HttpParamsDataset folder {folder} not found (use --http-params)")
        result = train_charcnn(out, head="attack", http_params=folder, **params)
    else:
        if start is None or end is None:
            raise InputError("training on stored requests needs --start and --end")
        store = _connect()
        try:
            result = train_charcnn(
                out,
                head=head,
                store=store,
                start=start,
                end=end,
                max_rows=max_rows,
                split=split,
                **params,
            )
        finally:
            store.close()
    _summary(result.metrics, result.folder)


def score(
    model: Annotated[Path, typer.Option(help="Model folder (char-CNN, tabular or anomaly).")],
    start: _Start,
    end: _End,
    batch_rows: Annotated[
        int, typer.Option(help="Requests or entities per batch (the memory bound).")
    ] = 50_000,
    head: Annotated[
        str | None, typer.Option(help="Char-CNN head: bot or attack (default: the model's).")
    ] = None,
    keep_previous: Annotated[
        bool, typer.Option(help="Keep this model version's earlier scores in the window.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Score a window with a saved model and write the rows to the scores table."""
    from workbench.models.scoring import score_requests

    store = _connect()
    try:
        result = score_requests(
            store,
            model,
            start,
            end,
            batch_rows=batch_rows,
            replace=not keep_previous,
            head=head,
        )
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(result.to_dict()))
        return
    typer.echo(
        f"scored {result.rows} {'requests' if result.kind == 'charcnn' else 'entities'} "
        f"with {result.model} {result.version} ({result.score_kind}) in {result.seconds:.1f} s "
        f"({result.rows_per_second:,.0f}/s, {result.batches} batches"
        + (f", replaced {result.replaced} earlier rows" if result.replaced else "")
        + ")"
    )
