"""Histograms of a reference and a current window, computed in ClickHouse.

A :class:`Source` is the rows of the two windows as two SQL queries with the same columns
(entity features, request columns, model scores: see :mod:`workbench.monitor.sources`).
The functions here send a handful of aggregate queries over them and get back only counts,
so the work stays in ClickHouse whatever the number of rows:

1. :func:`reference_quantiles`: quantiles of every numeric column on the reference window,
   one query for all columns (``quantilesExact``: values taken from the data);
2. :func:`numeric_counts`: counts per bin for both windows, one query for all columns, the
   edges bound as ``Array(Float64)`` parameters. Bins are right-closed with open ends,
   ``(-inf, e_1], (e_1, e_2], ..., (e_k, +inf)``, plus a last *missing* bin for NULL, NaN
   and infinite values;
3. :func:`category_counts`: counts per category for both windows (top categories only);
4. :func:`exact_ks`: the exact two-sample Kolmogorov–Smirnov statistic per column, from the
   counts per distinct value and window functions (cost grows with distinct values);
5. :func:`design_effect`: how much clustering (requests of one client) or weighting
   inflates the variance of the reference window's shares.

Rows may carry a weight column (an entity's request count, to weigh entities by traffic).
Every name in the SQL text is a checked identifier; every value is a bound parameter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import InputError
from workbench.store.base import Store
from workbench.store.identifiers import check_identifier

#: Quantile methods: name to ClickHouse aggregate function.
QUANTILE_FUNCTIONS = {"exact": "quantilesExact", "tdigest": "quantilesTDigest"}
#: Label of the category that gathers the categories beyond the top ones.
OTHER = "(other)"


@dataclass(frozen=True)
class Source:
    """Rows of a reference and a current window to compare, as SQL.

    Attributes
    ----------
    name : str
        What the rows are, for messages (``ip features``, ``requests`` ...).
    reference_sql, current_sql : str
        ``SELECT`` statements returning the columns below for each window.
    parameters : mapping
        Values of every placeholder in both statements.
    numeric : tuple of str
        Numeric columns to compare.
    categorical : tuple of str
        Categorical columns to compare (compared as strings).
    weight : str or None
        Column holding a non-negative integer weight per row (``None``: every row counts 1).
    cluster : str or None
        Column naming the independent unit the rows come in (the client of a request), for
        the effective sample size; ``None`` when rows are independent (one per entity).
    settings : mapping
        ClickHouse settings for the queries.
    """

    name: str
    reference_sql: str
    current_sql: str
    parameters: Mapping[str, Any]
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    weight: str | None = None
    cluster: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in (*self.numeric, *self.categorical):
            check_identifier(name)
        for name in (self.weight, self.cluster):
            if name is not None:
                check_identifier(name)
        both = set(self.numeric) & set(self.categorical)
        if both:
            raise InputError(f"columns {sorted(both)} are both numeric and categorical")


def _value(column: str) -> str:
    return f"ifNull(toFloat64({check_identifier(column)}), nan)"


def _weight(source: Source) -> str:
    return "toUInt64(1)" if source.weight is None else f"toUInt64({source.weight})"


def _windows(source: Source, columns: Sequence[str]) -> str:
    """``SELECT 0 AS _w, ... FROM (reference) UNION ALL SELECT 1 AS _w, ... FROM (current)``."""
    select = ", ".join([*columns, f"{_weight(source)} AS _wt"])
    return (
        f"SELECT 0 AS _w, {select} FROM ({source.reference_sql})\n"  # noqa: S608 - checked names
        f"UNION ALL\nSELECT 1 AS _w, {select} FROM ({source.current_sql})"
    )


def _levels_sql(levels: Sequence[float]) -> str:
    values = [float(v) for v in levels]
    if not values or not all(0 < v < 1 for v in values):
        raise InputError("quantile levels must lie strictly between 0 and 1")
    return ", ".join(repr(v) for v in values)


def reference_quantiles(
    store: Store, source: Source, levels: Sequence[float], method: str = "exact"
) -> dict[str, tuple[np.ndarray, int]]:
    """Return quantiles of each numeric column over the reference window's finite values.

    Parameters
    ----------
    store : Store
        Where the rows are.
    source : Source
        The windows; only the reference is read.
    levels : sequence of float
        Quantile levels in ``(0, 1)``.
    method : {"exact", "tdigest"}, default "exact"
        ``exact`` (``quantilesExact``) returns values of the data but holds the reference's
        values in memory (8 bytes per row and column); ``tdigest`` (``quantilesTDigest``)
        uses a few kilobytes per column, for references of billions of rows. Either way the
        edges are then used as they are for both windows, so the comparison stays fair.

    Returns
    -------
    dict
        Column to ``(quantile values, finite rows)``; the values are meaningless when the
        count is 0. With a weight, quantiles are weighted and the count is the weight sum.
    """
    if method not in QUANTILE_FUNCTIONS:
        raise InputError(f"quantile method must be one of {', '.join(QUANTILE_FUNCTIONS)}")
    if not source.numeric:
        return {}
    grid = _levels_sql(levels)
    function = QUANTILE_FUNCTIONS[method]
    parts = []
    for i in range(len(source.numeric)):
        v = f"_v{i}"
        if source.weight is None:
            parts.append(f"{function}If({grid})({v}, isFinite({v})) AS q{i}")
            parts.append(f"countIf(isFinite({v})) AS n{i}")
        else:
            parts.append(f"{function}WeightedIf({grid})({v}, _wt, isFinite({v})) AS q{i}")
            parts.append(f"sumIf(_wt, isFinite({v})) AS n{i}")
    inner = ", ".join(
        [
            *(f"{_value(c)} AS _v{i}" for i, c in enumerate(source.numeric)),
            f"{_weight(source)} AS _wt",
        ]
    )
    sql = (
        f"SELECT {', '.join(parts)}\n"  # noqa: S608 - checked names and numeric constants
        f"FROM (SELECT {inner} FROM ({source.reference_sql}))"
    )
    row = store.query_arrow(sql, source.parameters, source.settings).to_pylist()[0]
    return {
        column: (np.asarray(row[f"q{i}"], dtype=np.float64), int(row[f"n{i}"]))
        for i, column in enumerate(source.numeric)
    }


def _bin_sql(value: str, edges: str, k: int) -> str:
    """Bin index of ``value``: edges strictly below it (0..k), ``k + 1`` when not finite.

    ``roundDown`` finds the largest edge at or below the value (a search in a constant
    array); ``transform`` turns that edge into its position; a value equal to an edge
    belongs to the bin that ends there. The expression stays short whatever ``k`` is, so
    forty columns of fifty edges cost nothing to analyse, and it runs at the speed of a few
    comparisons per row.
    """
    if k == 0:
        return f"if(isFinite({value}), toUInt16(0), toUInt16(1))"
    found = f"roundDown({value}, {edges})"
    inside = f"transform({found}, {edges}, range({k}), 0) + ({found} < {value})"
    return (
        f"if(isFinite({value}), toUInt16(if({value} <= {edges}[1], 0, {inside})), "
        f"toUInt16({k + 1}))"
    )


def numeric_counts(
    store: Store, source: Source, edges: Mapping[str, np.ndarray]
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Count rows per bin in both windows, for every numeric column, in one query.

    Parameters
    ----------
    store : Store
        Where the rows are.
    source : Source
        The windows.
    edges : mapping of str to numpy.ndarray
        Strictly increasing finite edges per numeric column (bound as parameters).

    Returns
    -------
    dict
        Column to ``(reference, current, rows, squares)``: weighted counts per bin
        (``len(edges) + 2`` values, the last one the missing bin), then the unweighted row
        counts and the sums of squared weights of the two windows.

    Raises
    ------
    InputError
        When edges are missing for a column, or not strictly increasing and finite.
    """
    columns = list(source.numeric)
    if not columns:
        return {}
    params = dict(source.parameters)
    aliases, bins = [], []
    for i, column in enumerate(columns):
        if column not in edges:
            raise InputError(f"no bin edges for column {column!r}")
        e = np.asarray(edges[column], dtype=np.float64)
        if not np.all(np.isfinite(e)) or np.any(np.diff(e) <= 0):
            raise InputError(f"bin edges of {column!r} must be finite and strictly increasing")
        name = f"_monitor_edges_{i}"
        if name in params:
            raise InputError(f"parameter name {name!r} is taken by the source")
        params[name] = [float(x) for x in e]
        aliases.append(f"{{{name}:Array(Float64)}} AS _e{i}")
        bins.append(_bin_sql(f"_v{i}", f"_e{i}", len(e)))
    values = [f"{_value(c)} AS _v{i}" for i, c in enumerate(columns)]
    sql = (
        f"WITH {', '.join(aliases)}\n"  # noqa: S608 - checked names, bound edges
        f"SELECT _w, _s, _b, sum(_wt) AS n, count() AS rows, sum(_wt * _wt) AS squares\n"
        f"FROM ({_windows(source, values)})\n"
        f"ARRAY JOIN [{', '.join(str(i) for i in range(len(columns)))}] AS _s, "
        f"[{', '.join(bins)}] AS _b\n"
        "GROUP BY _w, _s, _b"
    )
    table = store.query_df(sql, params, source.settings)
    out = {}
    for i, column in enumerate(columns):
        size = len(edges[column]) + 2
        counts = np.zeros((2, size))
        rows = np.zeros(2, dtype=np.int64)
        squares = np.zeros(2)
        part = table[table["_s"] == i]
        for w, b, n, r, q in zip(
            part["_w"], part["_b"], part["n"], part["rows"], part["squares"], strict=True
        ):
            counts[int(w), int(b)] += float(n)
            rows[int(w)] += int(r)
            squares[int(w)] += float(q)
        out[column] = (counts[0], counts[1], rows, squares)
    return out


def category_counts(
    store: Store, source: Source, max_categories: int = 30
) -> dict[str, pd.DataFrame]:
    """Count rows per category in both windows, for every categorical column, in one query.

    Categories beyond the ``max_categories`` largest (by reference plus current count) are
    gathered in one :data:`OTHER` row, so a column with millions of values still returns
    a few rows.

    Parameters
    ----------
    store : Store
        Where the rows are.
    source : Source
        The windows.
    max_categories : int, default 30
        Categories kept per column.

    Returns
    -------
    dict
        Column to a frame with ``category``, ``reference``, ``current`` (weighted counts),
        largest first, :data:`OTHER` last when present.
    """
    columns = list(source.categorical)
    if not columns:
        return {}
    if (
        isinstance(max_categories, bool)
        or not isinstance(max_categories, int)
        or max_categories < 1
    ):
        raise InputError(f"max_categories must be a positive integer, got {max_categories!r}")
    values = [f"toString({check_identifier(c)}) AS _c{i}" for i, c in enumerate(columns)]
    params = dict(source.parameters)
    params["_monitor_top"] = max_categories + 1  # the total row comes first
    sql = (
        "SELECT _s, _c, grouping(_c) AS total, sumIf(_wt, _w = 0) AS reference, "  # noqa: S608
        "sumIf(_wt, _w = 1) AS current\n"
        f"FROM ({_windows(source, values)})\n"
        f"ARRAY JOIN [{', '.join(str(i) for i in range(len(columns)))}] AS _s, "
        f"[{', '.join(f'_c{i}' for i in range(len(columns)))}] AS _c\n"
        "GROUP BY GROUPING SETS ((_s, _c), (_s))\n"
        "ORDER BY _s, total DESC, reference + current DESC, _c\n"
        "LIMIT {_monitor_top:UInt32} BY _s"
    )
    table = store.query_df(sql, params, source.settings)
    out = {}
    for i, column in enumerate(columns):
        part = table[table["_s"] == i]
        totals = part[part["total"] == 1]
        top = part[part["total"] == 0]
        frame = pd.DataFrame(
            {
                "category": top["_c"].astype(str).to_numpy(),
                "reference": top["reference"].to_numpy(dtype=np.float64),
                "current": top["current"].to_numpy(dtype=np.float64),
            }
        )
        if len(totals):
            rest_ref = float(totals["reference"].iloc[0]) - frame["reference"].sum()
            rest_cur = float(totals["current"].iloc[0]) - frame["current"].sum()
            if rest_ref > 0 or rest_cur > 0:
                other = pd.DataFrame(
                    {"category": [OTHER], "reference": [rest_ref], "current": [rest_cur]}
                )
                frame = pd.concat([frame, other], ignore_index=True)
        out[column] = frame
    return out


def exact_ks(
    store: Store, source: Source, columns: Sequence[str] | None = None
) -> dict[str, float]:
    """Return the exact two-sample KS statistic of numeric columns over their finite values.

    ``max |F_ref(x) - F_cur(x)|`` over every distinct value ``x``, from counts per distinct
    value (weighted when the source has a weight), in one query. Memory and time grow with
    the number of distinct values, so use it on entity features or discrete scores, and
    the binned statistic on billions of continuous values.

    Parameters
    ----------
    store : Store
        Where the rows are.
    source : Source
        The windows.
    columns : sequence of str, optional
        Numeric columns (default: all of the source's).

    Returns
    -------
    dict
        Column to the statistic; NaN when a window has no finite value.
    """
    columns = list(source.numeric if columns is None else columns)
    if not columns:
        return {}
    unknown = [c for c in columns if c not in source.numeric]
    if unknown:
        raise InputError(f"columns {unknown} are not numeric columns of {source.name}")
    values = [f"{_value(c)} AS _v{i}" for i, c in enumerate(columns)]
    running = "PARTITION BY _s ORDER BY _v ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
    sql = (
        "SELECT _s, max(abs(cr / nr - cc / nc)) AS ks, any(nr) AS ref_total, any(nc) AS cur_total\n"  # noqa: S608
        "FROM (\n"
        f"  SELECT _s, sum(n0) OVER ({running}) AS cr, sum(n1) OVER ({running}) AS cc,\n"
        "         sum(n0) OVER (PARTITION BY _s) AS nr, sum(n1) OVER (PARTITION BY _s) AS nc\n"
        "  FROM (\n"
        "    SELECT _s, _v, sumIf(_wt, _w = 0) AS n0, sumIf(_wt, _w = 1) AS n1\n"
        f"    FROM ({_windows(source, values)})\n"
        f"    ARRAY JOIN [{', '.join(str(i) for i in range(len(columns)))}] AS _s, "
        f"[{', '.join(f'_v{i}' for i in range(len(columns)))}] AS _v\n"
        "    WHERE isFinite(_v)\n"
        "    GROUP BY _s, _v))\n"
        "GROUP BY _s"
    )
    table = store.query_df(sql, source.parameters, source.settings)
    out = dict.fromkeys(columns, float("nan"))
    for s, ks, nr, nc in zip(
        table["_s"], table["ks"], table["ref_total"], table["cur_total"], strict=True
    ):
        if nr > 0 and nc > 0:
            out[columns[int(s)]] = float(ks)
    return out


def design_effect(store: Store, source: Source) -> float:
    """Return the reference window's design effect: how much clustering inflates variance.

    Rows that come in clusters (a client's requests, :attr:`Source.cluster`) or carry
    weights are not independent draws. With ``m`` the summed weight of each cluster (or
    each row's weight when there is no cluster), Kish's effective sample size is
    ``(sum m)^2 / sum m^2`` and the design effect is ``sum m^2 / sum m``: the total weight
    divided by the effective size. A window of 60,000 requests from a few hundred
    clients, some sending thousands, carries the evidence of a few hundred draws.

    It is measured on the reference window only and applied to both, so an unusual current
    window (one client sending a third of the traffic) does not pass itself off as noise.

    Parameters
    ----------
    store : Store
        Where the rows are.
    source : Source
        The windows; only the reference is read.

    Returns
    -------
    float
        The design effect (at least 1 for unit weights); 1 for an empty window.
    """
    weight = _weight(source)
    if source.cluster is None:
        sql = (
            f"SELECT sum(_m) AS n, sum(_m * _m) AS n2 FROM (SELECT {weight} AS _m "  # noqa: S608
            f"FROM ({source.reference_sql}))"
        )
    else:
        sql = (
            "SELECT sum(_m) AS n, sum(_m * _m) AS n2 FROM (\n"  # noqa: S608 - checked names
            f"  SELECT {source.cluster} AS _cl, sum({weight}) AS _m "
            f"FROM ({source.reference_sql}) GROUP BY _cl)"
        )
    row = store.query_arrow(sql, source.parameters, source.settings).to_pylist()[0]
    n, n2 = float(row["n"] or 0), float(row["n2"] or 0)
    return n2 / n if n > 0 else 1.0
