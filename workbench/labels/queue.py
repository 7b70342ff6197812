"""Pick what an analyst should label next (active learning selection strategies).

Strategies, all skipping entities that already carry a label:

* ``uncertainty``: probability of the bad class closest to 0.5;
* ``margin``: smallest gap between the two likeliest classes (for a binary model this
  orders like ``uncertainty``; it differs for multi-class probabilities);
* ``diversity``: among the ``pool_factor * k`` most uncertain candidates, a farthest-point
  traversal on standardized features, so the queue does not spend k labels on one cluster;
* ``random``: a uniform sample (the baseline every strategy must beat).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import InputError
from workbench.store.base import Store

STRATEGIES = ("uncertainty", "margin", "diversity", "random")


def _check_proba(proba: Any) -> np.ndarray:
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim not in (1, 2) or p.shape[0] == 0:
        raise InputError(f"probabilities must be a non-empty 1-D or 2-D array, got {p.shape}")
    if not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1:
        raise InputError("probabilities must be finite and within [0, 1]")
    return p


def uncertainty_order(proba: Any) -> np.ndarray:
    """Return each row's uncertainty (higher = less sure), for binary or multi-class input.

    Parameters
    ----------
    proba : array-like
        Probability of the bad class (1-D) or class probabilities (2-D, rows sum to 1).

    Returns
    -------
    numpy.ndarray
        ``1 - |2p - 1|`` for 1-D input; ``1 - max(p)`` for 2-D input.
    """
    p = _check_proba(proba)
    if p.ndim == 1:
        return 1.0 - np.abs(2.0 * p - 1.0)
    return 1.0 - p.max(axis=1)


def margins(proba: Any) -> np.ndarray:
    """Return the gap between the two likeliest classes of each row (small = unsure).

    Parameters
    ----------
    proba : array-like
        Probability of the bad class (1-D) or class probabilities (2-D).

    Returns
    -------
    numpy.ndarray
        ``|p - (1 - p)|`` for 1-D input; top-1 minus top-2 for 2-D input.
    """
    p = _check_proba(proba)
    if p.ndim == 1:
        return np.abs(2.0 * p - 1.0)
    if p.shape[1] < 2:
        raise InputError("margin needs at least two classes")
    top = np.sort(p, axis=1)
    return top[:, -1] - top[:, -2]


def _standardize(features: Any, n: int) -> np.ndarray:
    x = np.asarray(pd.DataFrame(features).to_numpy(dtype=np.float64, na_value=np.nan))
    if x.ndim != 2 or x.shape[0] != n:
        raise InputError(f"features must have one row per probability ({n}), got {x.shape}")
    x = np.where(np.isfinite(x), x, np.nan)
    med = np.nanmedian(np.where(np.isnan(x).all(axis=0), 0.0, x), axis=0)
    x = np.where(np.isnan(x), med, x)
    sd = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


def farthest_points(x: np.ndarray, k: int, first: int = 0) -> np.ndarray:
    """Pick ``k`` rows of ``x`` by farthest-point traversal, starting at row ``first``.

    Parameters
    ----------
    x : numpy.ndarray
        Points, shape ``(n, d)``.
    k : int
        How many to pick (at most ``n``).
    first : int, default 0
        The row to start from.

    Returns
    -------
    numpy.ndarray
        Row indices in the order picked.
    """
    n = x.shape[0]
    k = min(k, n)
    chosen = [first]
    dist = np.sum((x - x[first]) ** 2, axis=1)
    dist[first] = -1.0
    for _ in range(k - 1):
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.sum((x - x[nxt]) ** 2, axis=1))
        dist[chosen] = -1.0
    return np.asarray(chosen, dtype=np.int64)


def select_queue(
    proba: Any,
    k: int,
    strategy: str = "uncertainty",
    features: Any = None,
    exclude: Any = None,
    seed: int = 0,
    pool_factor: int = 5,
) -> np.ndarray:
    """Choose the ``k`` rows to label next.

    Parameters
    ----------
    proba : array-like
        Probability of the bad class per row (1-D) or class probabilities (2-D).
    k : int
        Queue length (fewer when fewer rows are left).
    strategy : {"uncertainty", "margin", "diversity", "random"}
        How to choose.
    features : array-like, optional
        Feature matrix, one row per probability; required by ``diversity``.
    exclude : array-like of bool, optional
        True for rows that must not be proposed (already labelled).
    seed : int, default 0
        Controls the ``random`` strategy and tie-breaking.
    pool_factor : int, default 5
        ``diversity`` spreads its picks over this many times ``k`` uncertain candidates.

    Returns
    -------
    numpy.ndarray
        Row indices, most wanted first.

    Raises
    ------
    InputError
        Unknown strategy, ``k < 1``, bad probabilities, or ``diversity`` without features.
    """
    if strategy not in STRATEGIES:
        raise InputError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    if int(k) < 1:
        raise InputError(f"k must be at least 1, got {k}")
    p = _check_proba(proba)
    n = p.shape[0]
    allowed = np.ones(n, dtype=bool)
    if exclude is not None:
        ex = np.asarray(exclude, dtype=bool)
        if ex.shape != (n,):
            raise InputError(f"exclude must have {n} entries, got {ex.shape}")
        allowed &= ~ex
    candidates = np.flatnonzero(allowed)
    if candidates.size == 0:
        return np.empty(0, dtype=np.int64)
    rng = np.random.default_rng(seed)
    k = min(int(k), candidates.size)
    if strategy == "random":
        return np.sort(rng.choice(candidates, size=k, replace=False)).astype(np.int64)
    tiebreak = rng.random(candidates.size)
    if strategy == "margin":
        key = margins(p)[candidates]
    else:
        key = -uncertainty_order(p)[candidates]
    ranked = candidates[np.lexsort((tiebreak, key))]
    if strategy != "diversity":
        return ranked[:k].astype(np.int64)
    if features is None:
        raise InputError("the diversity strategy needs the feature matrix")
    pool = ranked[: max(k, int(pool_factor) * k)]
    x = _standardize(features, n)[pool]
    return pool[farthest_points(x, k, first=0)].astype(np.int64)


def build_queue(
    store: Store,
    model_path: str | Path,
    start: Any,
    end: Any,
    k: int = 50,
    strategy: str = "uncertainty",
    seed: int = 0,
    entity: str | None = None,
) -> pd.DataFrame:
    """Score a window's entities with a saved entity model and return what to label next.

    Parameters
    ----------
    store : Store
        Where ``http_requests`` and ``labels`` are.
    model_path : str or Path
        A tabular entity model folder (:func:`workbench.models.train_tabular`).
    start, end : datetime or ISO-8601 str
        Window of the features, UTC.
    k : int, default 50
        Queue length.
    strategy : str, default "uncertainty"
        One of :data:`STRATEGIES`.
    seed : int, default 0
        Randomness of ``random`` and of ties.
    entity : str, optional
        Entity kind; the model's own (from ``features.json``) when omitted.

    Returns
    -------
    pandas.DataFrame
        ``rank``, the entity key(s), ``probability``, ``score`` (1–99) and the features.
    """
    from workbench.features import build_entity_features
    from workbench.labels.store import read_labels
    from workbench.models import load_entity_model
    from workbench.models.tabular import TabularClassifier

    model, artifact = load_entity_model(model_path)
    if not isinstance(model, TabularClassifier):
        raise InputError(f"{model_path} is not a tabular classifier; the queue needs p(bad)")
    kind = entity or artifact.features.get("entity", "ip")
    names: Sequence[str] = artifact.features.get("features") or model.feature_names_
    feats = build_entity_features(store, kind, start, end, names)
    if feats.empty:
        raise InputError(f"no {kind} entities between {start} and {end}")
    keys = [c for c in feats.columns if c not in names]
    proba = model.predict_bad_proba(feats[list(names)])
    key_text = feats[keys].astype(str).agg("|".join, axis=1)
    labelled = set(read_labels(store, kind)["Entity"].astype(str))
    picks = select_queue(
        proba, k, strategy, feats[list(names)], key_text.isin(labelled).to_numpy(), seed
    )
    out = feats.iloc[picks][keys].reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(picks) + 1))
    out["probability"] = proba[picks]
    out["score"] = model.score_1_99(feats.iloc[picks][list(names)])
    return pd.concat([out, feats.iloc[picks][list(names)].reset_index(drop=True)], axis=1)
