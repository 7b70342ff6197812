"""Turn analyst labels into a training frame: entity features joined with latest verdicts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from workbench.errors import InputError
from workbench.features import build_entity_features, resolve_entity
from workbench.labels.store import read_labels
from workbench.store.base import Store


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
    if len(kind.keys) != 1:
        raise InputError(f"entity {kind.name!r} has several keys; labels name one value")
    key = kind.keys[0]
    labels = read_labels(store, kind.name)
    labels = labels[labels["y"] >= 0]
    if labels.empty:
        raise InputError(f"no {kind.name} labels yet; import or label some first")
    feats = build_entity_features(store, kind, start, end, features)
    feats[key] = feats[key].astype(str)
    right = labels[["Entity", "y", "Verdict", "Analyst", "LabelTime"]].rename(
        columns={"Entity": key}
    )
    frame = feats.merge(right, on=key, how="inner")
    if frame.empty:
        raise InputError(
            f"none of the {len(labels)} labelled {kind.name} entities is active between "
            f"{start} and {end}"
        )
    return frame.reset_index(drop=True)
