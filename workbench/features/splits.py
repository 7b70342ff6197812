"""Leak-free train / validation / test splits: by time, by entity or campaign, or both.

* :func:`split_by_time` puts earlier rows first; rows sharing a timestamp stay together.
* :func:`split_by_group` keeps every group (campaign, IP ...) on one side. With several
  group columns, rows linked through ANY of them (same campaign, or same IP) form one
  group, so no campaign and no IP appears on two sides.
* :func:`split_by_time_and_group` does both: sides are ordered in time and no group
  spans two sides.

Empty or missing group values (``''``, None, NaN: for example the campaign of benign traffic)
link nothing: such a row is grouped only by its other columns, or stands alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from workbench.errors import InputError

DEFAULT_FRACTIONS = (0.7, 0.15, 0.15)


def _check_fractions(fractions: Sequence[float]) -> np.ndarray:
    values = np.asarray(list(fractions), dtype=float)
    if len(values) < 2:
        raise InputError(f"give at least two fractions, got {list(fractions)}")
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise InputError(f"fractions must be non-negative numbers, got {list(fractions)}")
    if not math.isclose(float(values.sum()), 1.0, abs_tol=1e-6):
        raise InputError(f"fractions must sum to 1, got {list(fractions)} (sum {values.sum():g})")
    return values


def _check_columns(df: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(
            f"column(s) {', '.join(map(repr, missing))} not in the frame "
            f"(it has: {', '.join(map(str, df.columns[:20]))})"
        )


def _cut(weights: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """Side of each unit, units in order, by cumulative weight against the fractions."""
    total = weights.sum()
    if total == 0:
        return np.zeros(len(weights), dtype=np.int64)
    # a unit goes to the side where its middle falls, so sizes track the fractions
    middles = (np.cumsum(weights) - weights / 2) / total
    bounds = np.cumsum(fractions)[:-1]
    return np.searchsorted(bounds, middles, side="right").astype(np.int64)


def _sides(df: pd.DataFrame, side: np.ndarray, n: int) -> tuple[pd.DataFrame, ...]:
    return tuple(df.iloc[np.flatnonzero(side == i)] for i in range(n))


def _times(df: pd.DataFrame, time_col: str) -> np.ndarray:
    _check_columns(df, [time_col])
    try:
        times = pd.to_datetime(df[time_col], utc=True)
    except (ValueError, TypeError) as exc:
        raise InputError(f"column {time_col!r} does not hold times: {exc}") from None
    if times.isna().any():
        raise InputError(f"column {time_col!r} has {int(times.isna().sum())} missing times")
    return times.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]").astype("int64")


def group_ids(df: pd.DataFrame, group_cols: str | Sequence[str]) -> np.ndarray:
    """Label each row with its linked group: rows sharing any non-empty group value are one.

    Parameters
    ----------
    df : pandas.DataFrame
        Rows.
    group_cols : str or sequence of str
        Column(s) whose values link rows (``"campaign"``, ``["campaign", "ClientIP"]``).

    Returns
    -------
    numpy.ndarray
        ``int64`` group id per row (0 .. groups - 1).

    Raises
    ------
    InputError
        When a column is missing.
    """
    cols = [group_cols] if isinstance(group_cols, str) else list(group_cols)
    if not cols:
        raise InputError("give at least one group column")
    _check_columns(df, cols)
    n = len(df)
    # a bipartite graph: row nodes 0..n-1, then one node per distinct (column, value)
    src, dst, offset = [], [], n
    rows = np.arange(n)
    for col in cols:
        values = df[col]
        present = (values.notna() & (values.astype(str) != "")).to_numpy()
        codes, uniques = pd.factorize(values[present], sort=False)
        src.append(rows[present])
        dst.append(codes + offset)
        offset += len(uniques)
    src_all, dst_all = np.concatenate(src), np.concatenate(dst)
    graph = coo_matrix((np.ones(len(src_all), dtype=np.int8), (src_all, dst_all)), (offset, offset))
    _, labels = connected_components(graph, directed=False)
    _, ids = np.unique(labels[:n], return_inverse=True)
    return ids.astype(np.int64)


def split_by_time(
    df: pd.DataFrame, time_col: str, fractions: Sequence[float] = DEFAULT_FRACTIONS
) -> tuple[pd.DataFrame, ...]:
    """Split rows in time order: the first side gets the earliest rows.

    Rows with the same timestamp always go to the same side, so every row of a later side
    is strictly later than every row of an earlier one.

    Parameters
    ----------
    df : pandas.DataFrame
        Rows.
    time_col : str
        Timestamp column.
    fractions : sequence of float, default (0.7, 0.15, 0.15)
        Share of rows per side, summing to 1.

    Returns
    -------
    tuple of pandas.DataFrame
        One frame per fraction (train, validation, test), each in the input's row order.

    Raises
    ------
    InputError
        Bad fractions, a missing column, or missing times.
    """
    fr = _check_fractions(fractions)
    times = _times(df, time_col)
    stamps, inverse, counts = np.unique(times, return_inverse=True, return_counts=True)
    side_of_stamp = _cut(counts.astype(float), fr)
    return _sides(df, side_of_stamp[inverse], len(fr))


def split_by_group(
    df: pd.DataFrame,
    group_col: str | Sequence[str],
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
) -> tuple[pd.DataFrame, ...]:
    """Split rows so that no group appears on two sides; groups are shuffled with ``seed``.

    Parameters
    ----------
    df : pandas.DataFrame
        Rows.
    group_col : str or sequence of str
        Group column(s). With several, rows sharing a value in ANY of them stay together
        (``["campaign", "ClientIP"]``: no campaign and no IP on two sides).
    fractions : sequence of float, default (0.7, 0.15, 0.15)
        Target share of rows per side (met approximately: groups are not cut).
    seed : int, default 0
        Seed of the shuffle.

    Returns
    -------
    tuple of pandas.DataFrame
        One frame per fraction, each in the input's row order.

    Raises
    ------
    InputError
        Bad fractions or a missing column.
    """
    fr = _check_fractions(fractions)
    ids = group_ids(df, group_col)
    sizes = np.bincount(ids) if len(ids) else np.zeros(0, dtype=np.int64)
    order = np.random.default_rng(seed).permutation(len(sizes))
    side_of_group = np.empty(len(sizes), dtype=np.int64)
    side_of_group[order] = _cut(sizes[order].astype(float), fr)
    return _sides(df, side_of_group[ids], len(fr))


def split_by_time_and_group(
    df: pd.DataFrame,
    time_col: str,
    group_col: str | Sequence[str],
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    purge: bool = True,
) -> tuple[pd.DataFrame, ...]:
    """Split in time order with no group on two sides.

    With ``purge=True`` (default) the rows are cut in time exactly as :func:`split_by_time`
    does, then rows of a later side whose group already appeared on an earlier side are
    dropped: time order is strict and the dropped rows are lost. With ``purge=False``
    whole groups are ordered by their first row and cut by cumulative size: nothing is
    dropped, but a long-lived group may reach past the start of the next side.

    Parameters
    ----------
    df : pandas.DataFrame
        Rows.
    time_col : str
        Timestamp column.
    group_col : str or sequence of str
        Group column(s), linked as in :func:`split_by_group`.
    fractions : sequence of float, default (0.7, 0.15, 0.15)
        Share of rows per side.
    purge : bool, default True
        Drop leaking rows (strict time order) instead of moving whole groups.

    Returns
    -------
    tuple of pandas.DataFrame
        One frame per fraction, each in the input's row order.

    Raises
    ------
    InputError
        Bad fractions, a missing column, or missing times.
    """
    fr = _check_fractions(fractions)
    times = _times(df, time_col)
    ids = group_ids(df, group_col)
    if purge:
        stamps, inverse, counts = np.unique(times, return_inverse=True, return_counts=True)
        side = _cut(counts.astype(float), fr)[inverse]
        first_side = np.full(ids.max() + 1 if len(ids) else 0, len(fr), dtype=np.int64)
        np.minimum.at(first_side, ids, side)
        side = np.where(side == first_side[ids], side, -1)
        return _sides(df, side, len(fr))
    groups = pd.DataFrame({"g": ids, "t": times}).groupby("g")["t"].agg(["min", "size"])
    groups = groups.sort_values(["min"], kind="stable")
    side_of_group = np.empty(len(groups), dtype=np.int64)
    side_of_group[groups.index.to_numpy()] = _cut(groups["size"].to_numpy(float), fr)
    return _sides(df, side_of_group[ids], len(fr))
