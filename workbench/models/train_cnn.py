"""The char-CNN training job: stored requests or HttpParamsDataset files, to a model folder.

:func:`train_charcnn` trains the bot head on ``http_requests`` rows (a deterministic hash
sample, :func:`request_sample`) or the attack head on HttpParamsDataset files, through
:mod:`workbench.models.train_text`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from workbench.errors import InputError
from workbench.features.entity import window_parameters
from workbench.models.train_common import prepare_out
from workbench.store.base import Store

#: ``http_requests`` columns the CNN's request text and evaluation need.
CNN_COLUMNS = (
    "RayID",
    "EdgeStartTimestamp",
    "ClientRequestMethod",
    "ClientRequestPath",
    "ClientRequestQuery",
    "RequestBody",
    "ClientRequestUserAgent",
    "RequestHeaders",
    "label",
    "actor",
    "attack_class",
    "Source",
)


def request_sample(
    store: Store, start: Any, end: Any, max_rows: int, seed: int = 0, label_column: str = "label"
) -> pd.DataFrame:
    """Return up to ``max_rows`` labelled requests of a window, a deterministic hash sample.

    Rows are ordered by ``sipHash64(RayID, seed)``: the same seed gives the same rows. Only
    rows with a ground-truth ``label`` are taken; ``label_column`` must be among
    :data:`CNN_COLUMNS`.

    Raises
    ------
    InputError
        When no labelled request is in the window.
    """
    from workbench.store.identifiers import check_identifier

    if int(max_rows) < 1:
        raise InputError(f"max_rows must be positive, got {max_rows}")
    if label_column not in CNN_COLUMNS:
        raise InputError(f"label column {label_column!r} is not one of {CNN_COLUMNS}")
    cols = ", ".join(check_identifier(c) for c in CNN_COLUMNS)
    # rows of labelled sources only: an unlabelled source's empty attack_class is no "clean"
    where = (
        "EdgeStartTimestamp >= {start:DateTime64(3, 'UTC')} "
        "AND EdgeStartTimestamp < {end:DateTime64(3, 'UTC')} AND label != ''"
    )
    sql = (
        f"SELECT {cols} FROM http_requests WHERE {where} "  # noqa: S608 - checked names
        "ORDER BY sipHash64(RayID, {seed:UInt64}) LIMIT {n:UInt64}"
    )
    params = {**window_parameters(start, end), "seed": int(seed), "n": int(max_rows)}
    rows = store.query_df(sql, params)
    if rows.empty:
        raise InputError("no labelled requests in the window; load data or widen the window")
    return rows.sort_values("EdgeStartTimestamp", kind="stable").reset_index(drop=True)


def train_charcnn(
    out: str | Path,
    *,
    head: str = "bot",
    store: Store | None = None,
    start: Any = None,
    end: Any = None,
    http_params: str | Path | None = None,
    seed: int = 0,
    max_rows: int = 60_000,
    split: str = "time",
    progress: bool = True,
    overwrite: bool = False,
    **cnn_params: Any,
):
    """Train the char-CNN: bot head on stored requests, or attack head on HttpParamsDataset.

    Parameters
    ----------
    out : str or Path
        Model folder.
    head : {"bot", "attack"}, default "bot"
        ``bot``: ``http_requests`` rows of ``[start, end)`` labelled human / automated.
        ``attack``: the HttpParamsDataset ``payload_train.csv`` / ``payload_test.csv`` in
        ``http_params`` when given, else stored requests by ``attack_class``.
    store : Store, optional
        Needed for stored requests.
    start, end : datetime or ISO-8601 str, optional
        Window of stored requests.
    http_params : str or Path, optional
        Folder of the HttpParamsDataset CSV files.
    seed : int, default 0
    max_rows : int, default 60000
        Stored requests sampled (deterministic hash sample) for training.
    split : {"time", "random"}, default "time"
        Split of stored requests (see :func:`~workbench.models.train_text.train_request_classifier`).
    progress, overwrite : bool
    **cnn_params
        More :class:`~workbench.models.charcnn_classifier.CharCNNClassifier` settings.

    Returns
    -------
    workbench.models.train_text.TextTrainingResult
        The CNN, its baseline, metrics and folder.
    """
    from workbench.models.train_text import train_payload_classifier, train_request_classifier

    folder = prepare_out(out, overwrite)
    if head not in ("bot", "attack"):
        raise InputError(f"head must be 'bot' or 'attack', not {head!r}")
    if head == "attack" and http_params is not None:
        base = Path(http_params)
        train_csv, test_csv = base / "payload_train.csv", base / "payload_test.csv"
        return train_payload_classifier(
            train_csv, test_csv, folder, seed=seed, progress=progress, **cnn_params
        )
    if store is None or start is None or end is None:
        raise InputError("training on stored requests needs a store, --start and --end")
    label_column = "label" if head == "bot" else "attack_class"
    rows = request_sample(store, start, end, max_rows, seed, label_column)
    return train_request_classifier(
        rows,
        label_col=label_column,
        head=head,
        out_dir=folder,
        seed=seed,
        split=split,
        progress=progress,
        **cnn_params,
    )
