"""Turn analyst labels into training targets: entity features joined with latest verdicts.

* :func:`labelled_entity_frame`: features of the entities an analyst labelled, with ``y``
  from each entity's latest verdict (inner join);
* :func:`apply_label_source`: the label source of the entity models
  (``train_tabular(labels=...)``): ground truth only, analyst verdicts only, or analyst
  verdicts overriding ground truth, on a frame that already holds ground-truth ``y``.

Both go through :func:`join_verdicts`, the one place features meet the ``labels`` table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import InputError
from workbench.features import build_entity_features, resolve_entity
from workbench.features.registry import EntityKind
from workbench.labels.store import read_labels
from workbench.store.base import Store

#: Where entity targets come from (``train_tabular(labels=...)``, ``wb train tabular --labels``).
LABEL_SOURCES = ("truth", "analyst", "both")
#: Columns :func:`join_verdicts` adds from the ``labels`` table.
VERDICT_COLUMNS = ("y", "Verdict", "Analyst", "LabelTime")


def _single_key(kind: EntityKind) -> str:
    if len(kind.keys) != 1:
        raise InputError(f"entity {kind.name!r} has several keys; labels name one value")
    return kind.keys[0]


def latest_verdicts(store: Store, entity: str | EntityKind = "ip") -> pd.DataFrame:
    """Return each entity's latest analyst verdict with a known target (``y`` 0 or 1).

    Parameters
    ----------
    store : Store
        Where the ``labels`` table is.
    entity : str or EntityKind, default "ip"
        Entity kind.

    Returns
    -------
    pandas.DataFrame
        :func:`~workbench.labels.store.read_labels` rows (``latest=True``) whose verdict
        maps to a target.
    """
    kind = resolve_entity(entity)
    labels = read_labels(store, kind.name)
    return labels[labels["y"] >= 0].reset_index(drop=True)


def join_verdicts(
    frame: pd.DataFrame,
    labels: pd.DataFrame,
    key: str,
    how: str = "inner",
    prefix: str = "",
) -> pd.DataFrame:
    """Join entity rows with analyst verdicts on the entity value.

    Parameters
    ----------
    frame : pandas.DataFrame
        Entity rows with a ``key`` column (any dtype; matched as text).
    labels : pandas.DataFrame
        Latest verdicts (:func:`latest_verdicts`): ``Entity`` and :data:`VERDICT_COLUMNS`.
    key : str
        The entity key column of ``frame``.
    how : {"inner", "left"}, default "inner"
        Keep only labelled entities, or every row (verdict columns missing where none).
    prefix : str, default ""
        Prefix of the added columns (``"analyst_"`` keeps a ground-truth ``y`` apart).

    Returns
    -------
    pandas.DataFrame
        ``frame`` (key dtype unchanged, row order kept) with the verdict columns added.
    """
    right = labels[["Entity", *VERDICT_COLUMNS]].rename(
        columns={"Entity": "_entity", **{c: f"{prefix}{c}" for c in VERDICT_COLUMNS}}
    )
    left = frame.assign(_entity=frame[key].astype(str))
    out = left.merge(right, on="_entity", how=how, validate="many_to_one")
    return out.drop(columns="_entity")


def labelled_entity_frame(
    store: Store,
    start: Any,
    end: Any,
    entity: str = "ip",
    features: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Compute entity features of a window and attach each entity's latest analyst verdict.

    Parameters
    ----------
    store : Store
        Where ``http_requests`` and ``labels`` are.
    start, end : datetime or ISO-8601 str
        Window, UTC (``end`` exclusive).
    entity : str, default "ip"
        Entity kind (single-key kinds: ``ip``, ``ja4`` ...).
    features : sequence of str, optional
        Feature names (all of the entity's when omitted).

    Returns
    -------
    pandas.DataFrame
        Key, features, then ``y`` (1 anomalous, 0 normal), ``Verdict``, ``Analyst`` and
        ``LabelTime``; only entities that have a label and activity in the window.

    Raises
    ------
    InputError
        Multi-key entity kinds, or no labelled entity active in the window.
    """
    kind = resolve_entity(entity)
    key = _single_key(kind)
    labels = latest_verdicts(store, kind)
    if labels.empty:
        raise InputError(f"no {kind.name} labels yet; import or label some first")
    feats = build_entity_features(store, kind, start, end, features)
    feats[key] = feats[key].astype(str)
    frame = join_verdicts(feats, labels, key, how="inner")
    if frame.empty:
        raise InputError(
            f"none of the {len(labels)} labelled {kind.name} entities is active between "
            f"{start} and {end}"
        )
    return frame.reset_index(drop=True)


def apply_label_source(
    frame: pd.DataFrame,
    store: Store,
    entity: str | EntityKind,
    source: str = "truth",
    min_per_class: int = 3,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Set the target ``y`` of entity rows from ground truth, analyst verdicts, or both.

    Parameters
    ----------
    frame : pandas.DataFrame
        Entity rows with ground-truth ``y`` (1 automated, 0 human, -1 unknown), as
        :func:`workbench.models.entity_data.entity_training_frame` returns them.
    store : Store
        Where the ``labels`` table is (not read for ``"truth"``).
    entity : str or EntityKind
        Entity kind of the rows (single key for the analyst sources).
    source : {"truth", "analyst", "both"}, default "truth"
        ``truth``: ``y`` unchanged; ``analyst``: ``y`` from each entity's latest verdict,
        -1 (not trained on) for entities without one; ``both``: the latest verdict where
        there is one, ground truth elsewhere.
    min_per_class : int, default 3
        For ``analyst``: verdicts of each class needed among the rows (one per side of a
        three-way split).

    Returns
    -------
    frame : pandas.DataFrame
        The rows (same order and columns) with ``y`` set.
    stats : dict
        JSON-ready: ``source``, ``analyst_labels`` (rows whose ``y`` came from a verdict),
        ``analyst_automated``, ``analyst_human``, ``overrode_truth`` (verdict differs from a
        known ground truth), ``agreed_with_truth``, ``without_truth`` (no ground truth),
        ``labels_in_store`` (latest verdicts of the kind, active or not).

    Raises
    ------
    InputError
        Unknown source, a multi-key entity with an analyst source, or (``analyst``) fewer
        than ``min_per_class`` verdicts of a class among the rows.
    """
    if source not in LABEL_SOURCES:
        raise InputError(f"labels must be one of {LABEL_SOURCES}, not {source!r}")
    stats: dict[str, Any] = {"source": source}
    if source == "truth":
        return frame, {**stats, "analyst_labels": 0, "overrode_truth": 0}
    kind = resolve_entity(entity)
    key = _single_key(kind)
    labels = latest_verdicts(store, kind)
    joined = join_verdicts(frame[[key]], labels, key, how="left")
    verdict_y = pd.to_numeric(joined["y"], errors="coerce")
    has = verdict_y.notna().to_numpy()
    analyst_y = verdict_y.fillna(-1).to_numpy().astype(np.int8)
    truth = frame["y"].to_numpy(dtype=np.int8)
    known = truth >= 0
    n_auto, n_human = int((analyst_y[has] == 1).sum()), int((analyst_y[has] == 0).sum())
    stats.update(
        analyst_labels=int(has.sum()),
        analyst_automated=n_auto,
        analyst_human=n_human,
        overrode_truth=int((has & known & (analyst_y != truth)).sum()),
        agreed_with_truth=int((has & known & (analyst_y == truth)).sum()),
        without_truth=int((has & ~known).sum()),
        labels_in_store=len(labels),
    )
    if source == "analyst" and min(n_auto, n_human) < min_per_class:
        raise InputError(
            f"labels='analyst' needs at least {min_per_class} automated and {min_per_class} "
            f"human verdicts among the {kind.name} entities active in the window (one per side "
            f"of the split); found {n_auto} automated and {n_human} human of "
            f"{len(labels)} {kind.name} labels in the store. Label more entities "
            "(wb labels queue / import), or use labels='both'"
        )
    out = frame.copy()
    out["y"] = analyst_y if source == "analyst" else np.where(has, analyst_y, truth)
    out["y"] = out["y"].astype(np.int8)
    return out, stats
