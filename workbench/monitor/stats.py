"""Drift statistics on binned distributions: PSI, Kolmogorov–Smirnov and Jensen–Shannon.

Everything here works on *counts per bin* (or per category) of a reference and a current
window, which ClickHouse computes (:mod:`workbench.monitor.histograms`), so a hundred
million rows arrive here as a few dozen numbers. Conventions:

* **PSI** (population stability index) ``sum((c_i - r_i) * ln(c_i / r_i))`` over bins, with
  ``r_i`` and ``c_i`` the reference and current shares. An empty bin would make the log
  infinite, so shares are floored at :data:`PSI_EPSILON` (``1e-4``) before the sum; the
  floor is applied to both sides and the shares are not renormalized. Natural log, as the
  usual thresholds assume.
* **Jensen–Shannon distance**, base 2: the square root of the JS divergence with log base 2,
  between 0 (same distribution) and 1 (disjoint support). Needs no epsilon (``0 log 0 = 0``).
* **Kolmogorov–Smirnov statistic** from binned counts: the largest absolute difference of
  the two cumulative distributions *at the bin edges*. It never exceeds the exact statistic
  and is short of it by at most the probability mass inside one bin.
* **Severity** from PSI: below 0.1 ``none``, 0.1 to 0.2 ``minor``, above 0.2 ``major``,
  provided the PSI is larger than sampling noise explains. Two samples of one distribution
  still differ: with ``B`` occupied bins and effective sizes ``n_r`` and ``n_c``, PSI is
  about ``(B - 1)(1/n_r + 1/n_c)`` on average, and ``PSI / (1/n_r + 1/n_c)`` follows a
  chi-square law with ``B - 1`` degrees of freedom (PSI is, to second order, the
  chi-square homogeneity statistic). :func:`psi_p_value` is that test's p-value; a PSI
  whose p-value is above ``alpha`` (0.01) is noise and raises no alarm, whatever its size.
  On large windows every real change is significant and the thresholds alone decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import chdtrc

from workbench.errors import InputError

#: Floor for bin shares in PSI, so an empty bin costs a large but finite amount.
PSI_EPSILON = 1e-4
#: Severity names, from least to most severe.
SEVERITIES = ("none", "minor", "major")


@dataclass(frozen=True)
class Thresholds:
    """PSI thresholds that turn a drift value into a severity.

    Attributes
    ----------
    minor : float, default 0.1
        PSI at or above this (and below ``major``) is ``minor``.
    major : float, default 0.2
        PSI above this is ``major``.
    alpha : float or None, default 0.01
        Significance level: a PSI whose sampling-noise p-value (:func:`psi_p_value`) is
        above it is ``none`` whatever its size; ``None`` applies the thresholds alone.
    """

    minor: float = 0.1
    major: float = 0.2
    alpha: float | None = 0.01

    def __post_init__(self) -> None:
        if not (np.isfinite(self.minor) and np.isfinite(self.major)):
            raise InputError("drift thresholds must be finite numbers")
        if self.alpha is not None and not 0 < self.alpha < 1:
            raise InputError(f"alpha must lie strictly between 0 and 1, got {self.alpha}")
        if not 0 < self.minor <= self.major:
            raise InputError(
                f"drift thresholds must satisfy 0 < minor <= major, got {self.minor}, {self.major}"
            )


def _shares(counts: Any, name: str) -> np.ndarray:
    values = np.asarray(counts, dtype=np.float64).ravel()
    if values.size == 0:
        raise InputError(f"{name} has no bins")
    if not np.all(np.isfinite(values)) or values.min() < 0:
        raise InputError(f"{name} must hold finite, non-negative counts")
    total = values.sum()
    if total <= 0:
        raise InputError(f"{name} is empty (all counts are zero)")
    return values / total


def _pair(reference: Any, current: Any) -> tuple[np.ndarray, np.ndarray]:
    r = _shares(reference, "reference counts")
    c = _shares(current, "current counts")
    if r.shape != c.shape:
        raise InputError(
            f"reference and current have different numbers of bins ({r.size} and {c.size})"
        )
    return r, c


def psi(reference: Any, current: Any, epsilon: float = PSI_EPSILON) -> float:
    """Return the population stability index between two binned distributions.

    Parameters
    ----------
    reference, current : array-like of float
        Counts (or shares) per bin, same bins in the same order.
    epsilon : float, default 1e-4
        Floor applied to each share before the logarithm (empty bins).

    Returns
    -------
    float
        PSI, ``>= 0``; 0 when the shares are equal.

    Raises
    ------
    InputError
        When the arrays differ in length, hold negative or non-finite values, or sum to 0.
    """
    if not epsilon > 0:
        raise InputError(f"epsilon must be positive, got {epsilon}")
    r, c = _pair(reference, current)
    r = np.maximum(r, epsilon)
    c = np.maximum(c, epsilon)
    return float(np.sum((c - r) * np.log(c / r)))


def js_distance(reference: Any, current: Any) -> float:
    """Return the Jensen–Shannon distance (base 2) between two binned distributions.

    Parameters
    ----------
    reference, current : array-like of float
        Counts (or shares) per bin, same bins in the same order.

    Returns
    -------
    float
        Distance in ``[0, 1]``: the square root of the base-2 JS divergence.

    Raises
    ------
    InputError
        When the arrays differ in length, hold negative or non-finite values, or sum to 0.
    """
    r, c = _pair(reference, current)
    m = (r + c) / 2

    def kl(p: np.ndarray) -> float:
        mask = p > 0
        return float(np.sum(p[mask] * np.log2(p[mask] / m[mask])))

    divergence = (kl(r) + kl(c)) / 2
    return float(np.sqrt(min(max(divergence, 0.0), 1.0)))


def ks_binned(reference: Any, current: Any) -> float:
    """Return the Kolmogorov–Smirnov statistic of two distributions given as ordered bins.

    Parameters
    ----------
    reference, current : array-like of float
        Counts per bin, bins in increasing value order.

    Returns
    -------
    float
        ``max |F_ref - F_cur|`` over the bin edges, in ``[0, 1]``; a lower bound of the exact
        statistic on the underlying values.

    Raises
    ------
    InputError
        When the arrays differ in length, hold negative or non-finite values, or sum to 0.
    """
    r, c = _pair(reference, current)
    return float(np.max(np.abs(np.cumsum(r) - np.cumsum(c))))


def psi_p_value(value: float, bins: int, n_reference: float, n_current: float) -> float:
    """Return the probability that sampling noise alone gives a PSI at least this large.

    Under no drift, ``PSI / (1/n_r + 1/n_c)`` is approximately chi-square distributed with
    ``bins - 1`` degrees of freedom.

    Parameters
    ----------
    value : float
        PSI.
    bins : int
        Bins (or categories) holding rows in either window.
    n_reference, n_current : float
        Effective sample sizes of the windows (independent draws).

    Returns
    -------
    float
        The p-value in ``[0, 1]``; 1 with fewer than two bins, NaN when a size is 0.
    """
    if bins < 2:
        return 1.0
    if not (n_reference > 0 and n_current > 0) or not np.isfinite(value):
        return float("nan")
    statistic = value / (1.0 / n_reference + 1.0 / n_current)
    return float(chdtrc(bins - 1, statistic))


def severity(
    value: float | None, thresholds: Thresholds | None = None, p_value: float | None = None
) -> str:
    """Return the severity of a PSI value.

    Parameters
    ----------
    value : float or None
        PSI; ``None`` or NaN (not computable) is ``none``.
    thresholds : Thresholds, optional
        Defaults to 0.1 (minor), 0.2 (major) and significance level 0.01.
    p_value : float, optional
        Sampling-noise p-value of the PSI (:func:`psi_p_value`); when given and above the
        thresholds' ``alpha``, the severity is ``none``.

    Returns
    -------
    str
        ``"none"`` below ``minor`` (or not significant), ``"minor"`` up to ``major``,
        ``"major"`` above it.
    """
    t = thresholds or Thresholds()
    if value is None or not np.isfinite(value):
        return "none"
    if t.alpha is not None and p_value is not None and not p_value <= t.alpha:
        return "none"
    if value > t.major:
        return "major"
    if value >= t.minor:
        return "minor"
    return "none"


def worst(severities: Sequence[str]) -> str:
    """Return the most severe of some severities (``"none"`` for none at all).

    Parameters
    ----------
    severities : sequence of str
        Values among :data:`SEVERITIES`.

    Returns
    -------
    str
        The worst one.
    """
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    unknown = [s for s in severities if s not in rank]
    if unknown:
        raise InputError(f"unknown severities {unknown}; known: {', '.join(SEVERITIES)}")
    return max(severities, key=rank.__getitem__, default="none")


def quantile_levels(bins: int, grid: int) -> list[float]:
    """Return the quantile levels of the fine grid that bin edges are chosen from.

    Parameters
    ----------
    bins : int
        PSI bins (10: deciles).
    grid : int
        Fine-grid bins; a multiple of ``bins`` (50: every 2 %).

    Returns
    -------
    list of float
        ``k / grid`` for ``k = 1 .. grid - 1``.

    Raises
    ------
    InputError
        When ``bins < 2``, ``grid`` is not a multiple of ``bins`` or above 200.
    """
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
        raise InputError(f"bins must be an integer >= 2, got {bins!r}")
    if isinstance(grid, bool) or not isinstance(grid, int) or grid < bins or grid % bins:
        raise InputError(f"grid must be a multiple of bins ({bins}), got {grid!r}")
    if grid > 200:
        raise InputError(f"grid must be at most 200 quantile bins, got {grid}")
    return [k / grid for k in range(1, grid)]


def psi_edges(fine_edges: Any, reference_counts: Any, bins: int) -> np.ndarray:
    """Choose the PSI bin edges among the fine edges, by the reference's cumulative shares.

    For each target share ``k / bins`` (``k = 1 .. bins - 1``) the fine edge whose
    cumulative reference share is closest is taken (the first on ties), then duplicates
    are dropped. On continuous data this gives the reference deciles; where values tie
    (a share that is 0 for 9 % of entities and 1 for the rest) it keeps the point masses
    apart instead of letting every decile collapse onto one value.

    Parameters
    ----------
    fine_edges : array-like of float
        Strictly increasing edges of the fine bins.
    reference_counts : array-like of float
        Reference counts in the ``len(fine_edges) + 1`` fine bins (no missing bin).
    bins : int
        Target number of bins.

    Returns
    -------
    numpy.ndarray
        At most ``bins - 1`` strictly increasing edges, a subset of ``fine_edges``.
    """
    edges = np.asarray(fine_edges, dtype=np.float64)
    counts = np.asarray(reference_counts, dtype=np.float64)
    if counts.size != edges.size + 1:
        raise InputError(f"{counts.size} counts for {edges.size} edges")
    total = counts.sum()
    if total <= 0:
        return edges[:0]
    if edges.size == 0:
        return edges
    cumulative = np.cumsum(counts[:-1]) / total  # share at or below each edge
    targets = np.arange(1, bins) / bins
    picked = np.abs(cumulative[None, :] - targets[:, None]).argmin(axis=1)
    return edges[np.unique(picked)]


def unique_edges(values: Sequence[float]) -> np.ndarray:
    """Return sorted, de-duplicated, finite bin edges.

    Parameters
    ----------
    values : sequence of float
        Quantile values (ties and non-finite values allowed).

    Returns
    -------
    numpy.ndarray
        Strictly increasing finite edges (possibly empty).
    """
    edges = np.asarray(values, dtype=np.float64).ravel()
    return np.unique(edges[np.isfinite(edges)])


def coarsen(
    fine_edges: np.ndarray, fine_counts: np.ndarray, coarse_edges: np.ndarray
) -> np.ndarray:
    """Merge counts over fine bins into counts over coarser bins whose edges are a subset.

    Bins are right-closed with open ends: edges ``e_1 < ... < e_k`` make the bins
    ``(-inf, e_1], (e_1, e_2], ..., (e_k, +inf)``.

    Parameters
    ----------
    fine_edges : numpy.ndarray
        Fine edges, strictly increasing.
    fine_counts : numpy.ndarray
        ``len(fine_edges) + 1`` counts.
    coarse_edges : numpy.ndarray
        A subset of ``fine_edges``.

    Returns
    -------
    numpy.ndarray
        ``len(coarse_edges) + 1`` counts.

    Raises
    ------
    InputError
        When the sizes do not match or a coarse edge is not a fine edge.
    """
    fine_edges = np.asarray(fine_edges, dtype=np.float64)
    coarse_edges = np.asarray(coarse_edges, dtype=np.float64)
    counts = np.asarray(fine_counts, dtype=np.float64)
    if counts.size != fine_edges.size + 1:
        raise InputError(f"{counts.size} counts for {fine_edges.size} edges")
    if not np.isin(coarse_edges, fine_edges).all():
        raise InputError("coarse edges must be a subset of the fine edges")
    uppers = np.append(fine_edges, np.inf)
    target = np.searchsorted(coarse_edges, uppers, side="left")
    return np.bincount(target, weights=counts, minlength=coarse_edges.size + 1)
