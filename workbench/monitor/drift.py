"""Drift between a reference and a current window: every feature, request column and score.

:func:`measure_drift` compares the two windows of one :class:`~workbench.monitor.Source`:

* numeric columns get a fine grid of edges from the reference window's quantiles (``grid``
  quantile bins, every 2 % by default, de-duplicated), and PSI bin edges chosen among them
  where the reference's cumulative share is closest to ``k / bins`` (deciles on continuous
  values; point masses stay apart where values tie), with open-ended first and last bins
  and a bin for missing values (NULL, NaN, infinite). PSI and the Jensen–Shannon distance
  use the PSI bins; the Kolmogorov–Smirnov statistic is *exact* (over every distinct finite
  value, in ClickHouse) when the two windows hold at most ``exact_ks_max_rows`` rows and
  *binned* (at the fine grid's edges, a lower bound) above that; ``ks_method`` says which;
* categorical columns use category shares (the top ``max_categories``, the rest pooled);
  PSI and JS on the shares, no KS.

Severity comes from PSI (below 0.1 none, 0.1–0.2 minor, above 0.2 major, see
:class:`~workbench.monitor.stats.Thresholds`) when the PSI is more than sampling noise: its
chi-square p-value, from the effective sample sizes, must be at most ``alpha`` (0.01).
Requests come in clusters (a client sends many), so request columns are judged by the
effective number of clients, not of requests (the design effect measured on the reference
window, :func:`~workbench.monitor.histograms.design_effect`).

:func:`drift_report` runs it on entity features, request columns and the score of every
model version, and returns a :class:`DriftReport` whose rows
:func:`~workbench.monitor.history.write_monitoring` keeps.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from workbench.errors import InputError
from workbench.features.registry import resolve_entity
from workbench.monitor.histograms import (
    Source,
    category_counts,
    design_effect,
    exact_ks,
    numeric_counts,
    reference_quantiles,
)
from workbench.monitor.report import DriftReport
from workbench.monitor.sources import (
    Window,
    as_window,
    entity_source,
    request_source,
    score_source,
)
from workbench.monitor.stats import (
    Thresholds,
    coarsen,
    js_distance,
    ks_binned,
    psi,
    psi_edges,
    psi_p_value,
    quantile_levels,
    severity,
    unique_edges,
)
from workbench.store.base import Store

#: Above this many rows in the two windows together, KS is binned rather than exact.
EXACT_KS_MAX_ROWS = 2_000_000
KS_METHODS = ("auto", "exact", "binned")
#: Columns of :func:`measure_drift`'s result.
RESULT_COLUMNS = (
    "group", "subject", "kind", "psi", "ks", "ks_method", "js", "p_value", "severity",
    "n_reference", "n_current", "n_eff_reference", "n_eff_current", "missing_reference",
    "missing_current", "model", "version", "details",
)  # fmt: skip


def _share(part: float, total: float) -> float:
    return float(part / total) if total > 0 else float("nan")


def _check_options(bins: int, grid: int, ks: str) -> list[float]:
    if ks not in KS_METHODS:
        raise InputError(f"ks must be one of {', '.join(KS_METHODS)}, got {ks!r}")
    return quantile_levels(bins, grid)


def _judge(
    value: float, ref: np.ndarray, cur: np.ndarray, deff: float, thresholds: Thresholds
) -> dict[str, Any]:
    """PSI's p-value against sampling noise, and the severity it leads to."""
    occupied = int(np.count_nonzero((ref + cur) > 0))
    sizes = np.array([ref.sum(), cur.sum()]) / max(deff, 1e-12)
    p_value = psi_p_value(value, occupied, sizes[0], sizes[1])
    return {
        "p_value": p_value,
        "severity": severity(value, thresholds, p_value),
        "n_eff_reference": float(sizes[0]),
        "n_eff_current": float(sizes[1]),
    }


def _numeric_rows(
    store: Store,
    source: Source,
    levels: list[float],
    bins: int,
    ks: str,
    exact_ks_max_rows: int,
    thresholds: Thresholds,
    deff: float | None,
    quantiles_method: str,
) -> list[dict[str, Any]]:
    if not source.numeric:
        return []
    quantiles = reference_quantiles(store, source, levels, quantiles_method)
    fine = {c: unique_edges(q) if n else np.empty(0) for c, (q, n) in quantiles.items()}
    counts = numeric_counts(store, source, fine)
    rows_total = counts[source.numeric[0]][2]  # the same rows for every column
    _require_rows(source, rows_total)
    method = ks
    if ks == "auto":
        method = "exact" if int(rows_total.sum()) <= exact_ks_max_rows else "binned"
    exact = exact_ks(store, source) if method == "exact" else {}
    out = []
    for column in source.numeric:
        ref, cur, _, squares = counts[column]
        if deff is None:  # independent rows: the reference's weights alone inflate variance
            column_deff = squares[0] / ref.sum() if ref.sum() > 0 else 1.0
        else:
            column_deff = deff
        # fine bins without the missing bin, then the PSI bins plus the missing bin
        ref_fine, cur_fine = ref[:-1], cur[:-1]
        edges = psi_edges(fine[column], ref_fine, bins)
        ref_bins = np.append(coarsen(fine[column], ref_fine, edges), ref[-1])
        cur_bins = np.append(coarsen(fine[column], cur_fine, edges), cur[-1])
        value = psi(ref_bins, cur_bins)
        if method == "exact":
            ks_value = exact[column]
        elif ref_fine.sum() > 0 and cur_fine.sum() > 0:
            ks_value = ks_binned(ref_fine, cur_fine)
        else:
            ks_value = float("nan")
        out.append(
            {
                "group": source.name,
                "subject": column,
                "kind": "numeric",
                "psi": value,
                "ks": ks_value,
                "ks_method": method,
                "js": js_distance(ref_bins, cur_bins),
                **_judge(value, ref_bins, cur_bins, column_deff, thresholds),
                "n_reference": float(ref.sum()),
                "n_current": float(cur.sum()),
                "missing_reference": _share(ref[-1], ref.sum()),
                "missing_current": _share(cur[-1], cur.sum()),
                "model": "",
                "version": "",
                "details": {
                    "edges": [float(e) for e in edges],
                    "reference": [_share(x, ref.sum()) for x in ref_bins],
                    "current": [_share(x, cur.sum()) for x in cur_bins],
                },
            }
        )
    return out


def _require_rows(source: Source, rows: np.ndarray) -> None:
    for w, name in enumerate(("reference", "current")):
        if int(rows[w]) == 0:
            raise InputError(f"the {name} window has no rows in {source.name}: nothing to compare")


def _categorical_rows(
    store: Store,
    source: Source,
    max_categories: int,
    thresholds: Thresholds,
    deff: float | None,
) -> list[dict[str, Any]]:
    out = []
    for column, frame in category_counts(store, source, max_categories).items():
        ref = frame["reference"].to_numpy(dtype=np.float64)
        cur = frame["current"].to_numpy(dtype=np.float64)
        _require_rows(source, np.array([ref.sum(), cur.sum()]))
        value = psi(ref, cur)
        out.append(
            {
                "group": source.name,
                "subject": column,
                "kind": "categorical",
                "psi": value,
                "ks": float("nan"),
                "ks_method": "",
                "js": js_distance(ref, cur),
                **_judge(value, ref, cur, 1.0 if deff is None else deff, thresholds),
                "n_reference": float(ref.sum()),
                "n_current": float(cur.sum()),
                "missing_reference": float("nan"),
                "missing_current": float("nan"),
                "model": "",
                "version": "",
                "details": {
                    "categories": frame["category"].tolist(),
                    "reference": [_share(x, ref.sum()) for x in ref],
                    "current": [_share(x, cur.sum()) for x in cur],
                },
            }
        )
    return out


def measure_drift(
    store: Store,
    source: Source,
    bins: int = 10,
    grid: int = 50,
    ks: str = "auto",
    thresholds: Thresholds | None = None,
    max_categories: int = 30,
    exact_ks_max_rows: int = EXACT_KS_MAX_ROWS,
    quantiles: str = "exact",
) -> pd.DataFrame:
    """Compare the two windows of a source, column by column, in ClickHouse.

    Parameters
    ----------
    store : Store
        Where the rows are.
    source : Source
        The two windows (see :mod:`workbench.monitor.sources`).
    bins : int, default 10
        PSI bins per numeric column (quantiles of the reference; fewer when values tie).
    grid : int, default 50
        Fine quantile bins (every 2 %): the PSI edges are chosen among their edges, and the
        binned KS statistic is read at them; a multiple of ``bins``.
    ks : {"auto", "exact", "binned"}, default "auto"
        How to compute KS: exact when the windows hold at most ``exact_ks_max_rows`` rows
        (``auto``), always exact, or always binned.
    thresholds : Thresholds, optional
        PSI thresholds (default 0.1 minor, 0.2 major).
    max_categories : int, default 30
        Categories kept per categorical column; the rest are pooled as ``(other)``.
    exact_ks_max_rows : int, default 2000000
        Row limit for the exact KS statistic under ``auto``.
    quantiles : {"exact", "tdigest"}, default "exact"
        How the reference's quantiles are computed (see
        :func:`~workbench.monitor.histograms.reference_quantiles`): ``tdigest`` for
        references too large to hold one column's values in memory.

    Returns
    -------
    pandas.DataFrame
        One row per column, with :data:`RESULT_COLUMNS`: ``psi``, ``ks`` (NaN for
        categories), ``js``, the sampling-noise ``p_value`` of the PSI, ``severity``,
        weighted totals ``n_reference``/``n_current``, effective sample sizes
        ``n_eff_reference``/``n_eff_current`` (the totals over the reference's design effect),
        missing-value shares, and ``details`` (edges or categories with both windows'
        shares, the missing bin last).

    Raises
    ------
    InputError
        When a window has no rows, or an option is out of range.
    """
    levels = _check_options(bins, grid, ks)
    thresholds = thresholds or Thresholds()
    deff = None
    if source.cluster is not None or (source.weight is not None and source.categorical):
        deff = design_effect(store, source)
    rows = _numeric_rows(
        store, source, levels, bins, ks, exact_ks_max_rows, thresholds, deff, quantiles
    )
    rows += _categorical_rows(store, source, max_categories, thresholds, deff)
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


def score_versions(
    store: Store, reference: Window, current: Window, model: str | None = None
) -> pd.DataFrame:
    """List the model versions with scores in the reference or the current window.

    Parameters
    ----------
    store : Store
        Where the ``scores`` table is.
    reference, current : Window
        The windows (on ``EventTime``).
    model : str, optional
        Only this model.

    Returns
    -------
    pandas.DataFrame
        ``model``, ``version``, ``reference`` and ``current`` row counts.
    """
    sql = (
        "SELECT toString(Model) AS model, toString(Version) AS version,\n"
        "  countIf(EventTime >= {ref_start:DateTime64(3, 'UTC')} "
        "AND EventTime < {ref_end:DateTime64(3, 'UTC')}) AS reference,\n"
        "  countIf(EventTime >= {cur_start:DateTime64(3, 'UTC')} "
        "AND EventTime < {cur_end:DateTime64(3, 'UTC')}) AS current\n"
        "FROM scores\n"
        "WHERE ((EventTime >= {ref_start:DateTime64(3, 'UTC')} "
        "AND EventTime < {ref_end:DateTime64(3, 'UTC')})\n"
        "   OR (EventTime >= {cur_start:DateTime64(3, 'UTC')} "
        "AND EventTime < {cur_end:DateTime64(3, 'UTC')}))\n"
        "  AND ({model:String} = '' OR Model = {model:String})\n"
        "GROUP BY model, version ORDER BY model, version"
    )
    params = {
        "ref_start": reference.start,
        "ref_end": reference.end,
        "cur_start": current.start,
        "cur_end": current.end,
        "model": model or "",
    }
    return store.query_df(sql, params)


def drift_report(
    store: Store,
    reference: Window | Sequence[Any],
    current: Window | Sequence[Any],
    entity: str | None = "ip",
    features: Sequence[str] | None = None,
    weight: str = "entities",
    requests: bool = True,
    scores: bool = True,
    model: str | None = None,
    version: str | None = None,
    bins: int = 10,
    grid: int = 50,
    ks: str = "auto",
    thresholds: Thresholds | None = None,
    quantiles: str = "exact",
    progress: bool = False,
) -> DriftReport:
    """Measure drift between two windows on entity features, request columns and scores.

    Parameters
    ----------
    store : Store
        Where the tables are.
    reference, current : Window or (start, end)
        The windows, UTC, ``start`` inclusive and ``end`` exclusive.
    entity : str or None, default "ip"
        Entity kind whose features are compared (``None``: no entity features).
    features : sequence of str, optional
        Feature names (default: every feature of the entity).
    weight : {"entities", "requests"}, default "entities"
        Weigh each entity once, or by its request count.
    requests : bool, default True
        Also compare request columns (country, status class, user-agent family, ...).
    scores : bool, default True
        Also compare the ``Score`` distribution of every model version scored in both
        windows.
    model, version : str, optional
        Only this model (and version) for score drift.
    bins, grid, ks, thresholds, quantiles
        As for :func:`measure_drift`.
    progress : bool, default False
        Show a progress bar on stderr.

    Returns
    -------
    DriftReport
        Rows for every compared column, the overall verdict and notes.

    Raises
    ------
    InputError
        Bad windows or options, or a window without rows.
    """
    reference = as_window(reference, "reference")
    current = as_window(current, "current")
    thresholds = thresholds or Thresholds()
    if version and not model:
        raise InputError("a version needs its model (--model)")
    notes: list[str] = []
    if reference.length != current.length and entity:
        notes.append(
            f"the windows differ in length ({reference.length} and {current.length}): volume "
            "features (requests, active minutes, distinct counts) drift with the length alone"
        )
    if reference.start < current.end and current.start < reference.end:
        notes.append("the windows overlap: drift is understated")
    sources: list[tuple[Source, str, str]] = []
    if entity:
        sources.append((entity_source(entity, reference, current, features, weight), "", ""))
    if requests:
        sources.append((request_source(reference, current), "", ""))
    if scores:
        versions = score_versions(store, reference, current, model)
        if version:
            versions = versions[versions["version"] == version]
        for rec in versions.to_dict("records"):
            if rec["reference"] and rec["current"]:
                src = score_source(rec["model"], rec["version"], reference, current)
                sources.append((src, rec["model"], rec["version"]))
            else:
                where = "current" if rec["current"] else "reference"
                notes.append(
                    f"model {rec['model']} version {rec['version']} has scores only in the "
                    f"{where} window: its score drift is not measured"
                )
        if model and not len(versions):
            notes.append(f"no scores of model {model} {version or ''} in either window".rstrip())
    if not sources:
        why = "; ".join(notes) if notes else "choose an entity, request columns or scores"
        raise InputError(f"nothing to compare: {why}")
    parts = []
    bar = tqdm(sources, desc="drift", unit="group", file=sys.stderr, disable=not progress)
    for src, model_name, model_version in bar:
        bar.set_postfix_str(src.name)
        frame = measure_drift(store, src, bins, grid, ks, thresholds, quantiles=quantiles)
        frame["model"] = model_name
        frame["version"] = model_version
        parts.append(frame)
    bar.close()
    return DriftReport(
        reference=reference,
        current=current,
        results=pd.concat(parts, ignore_index=True),
        entity=resolve_entity(entity).name if entity else "",
        weight=weight,
        thresholds=thresholds,
        notes=notes,
    )
