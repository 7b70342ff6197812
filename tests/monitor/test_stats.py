"""Drift statistics on binned distributions, checked against scipy and direct formulas."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2, ks_2samp

from workbench.errors import InputError
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
    worst,
)

counts = st.lists(st.integers(0, 1000), min_size=2, max_size=12)


def test_psi_matches_the_textbook_formula_with_floored_shares():
    ref = np.array([50, 30, 20, 0])
    cur = np.array([20, 30, 40, 10])
    r = np.maximum(ref / ref.sum(), 1e-4)
    c = np.maximum(cur / cur.sum(), 1e-4)
    expected = sum((ci - ri) * np.log(ci / ri) for ri, ci in zip(r, c, strict=True))
    assert psi(ref, cur) == pytest.approx(expected, rel=1e-12)
    assert psi(ref, ref) == 0.0
    # counts and shares give the same answer
    assert psi(ref / 7, cur * 3) == pytest.approx(expected, rel=1e-12)


def test_psi_known_value():
    # 0.5/0.5 against 0.8/0.2: 0.3 ln(1.6) + 0.3 ln(2.5)
    assert psi([5, 5], [8, 2]) == pytest.approx(0.3 * np.log(1.6) + 0.3 * np.log(2.5))


@settings(max_examples=60, deadline=None)
@given(counts, counts)
def test_psi_and_js_are_symmetric_non_negative_and_bounded(a, b):
    n = min(len(a), len(b))
    a, b = np.array(a[:n]) + 1, np.array(b[:n]) + 1
    assert psi(a, b) >= 0 and psi(a, b) == pytest.approx(psi(b, a))
    d = js_distance(a, b)
    assert 0.0 <= d <= 1.0 and d == pytest.approx(js_distance(b, a))
    assert d == pytest.approx(jensenshannon(a / a.sum(), b / b.sum(), base=2), abs=1e-9)


def test_js_distance_matches_scipy_with_empty_bins_and_disjoint_support():
    ref, cur = np.array([10, 0, 5, 5]), np.array([0, 7, 3, 0])
    assert js_distance(ref, cur) == pytest.approx(jensenshannon(ref, cur, base=2), abs=1e-12)
    assert js_distance([1, 0], [0, 1]) == pytest.approx(1.0)
    assert js_distance([3, 4], [6, 8]) == pytest.approx(0.0, abs=1e-7)


def test_binned_ks_equals_scipy_when_every_value_has_its_own_bin():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 15, 400)
    y = rng.integers(2, 18, 300)
    values = np.arange(0, 18)
    ref = np.array([(x == v).sum() for v in values])
    cur = np.array([(y == v).sum() for v in values])
    assert ks_binned(ref, cur) == pytest.approx(ks_2samp(x, y).statistic, abs=1e-12)


def test_binned_ks_is_a_lower_bound_of_the_exact_statistic():
    rng = np.random.default_rng(4)
    x, y = rng.normal(0, 1, 2000), rng.normal(0.2, 1.2, 1500)
    edges = np.quantile(x, np.linspace(0.05, 0.95, 19))
    ref = np.bincount(np.searchsorted(edges, x, "left"), minlength=20)
    cur = np.bincount(np.searchsorted(edges, y, "left"), minlength=20)
    exact = ks_2samp(x, y).statistic
    assert ks_binned(ref, cur) <= exact + 1e-12
    assert ks_binned(ref, cur) > exact - 0.05


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.0, "none"), (0.0999, "none"), (0.1, "minor"), (0.2, "minor"), (0.2001, "major"),
     (5.0, "major"), (float("nan"), "none"), (None, "none")],
)  # fmt: skip
def test_severity_thresholds(value, expected):
    assert severity(value) == expected


def test_severity_is_none_when_sampling_noise_explains_the_psi():
    assert severity(0.5, Thresholds(), p_value=0.3) == "none"
    assert severity(0.5, Thresholds(), p_value=0.001) == "major"
    assert severity(0.5, Thresholds(alpha=None), p_value=0.3) == "major"
    assert severity(0.15, Thresholds(minor=0.05, major=0.12)) == "major"


def test_p_value_is_the_chi_square_tail_of_the_scaled_psi():
    value, bins, n_r, n_c = 0.05, 10, 400.0, 600.0
    stat = value / (1 / n_r + 1 / n_c)
    assert psi_p_value(value, bins, n_r, n_c) == pytest.approx(chi2.sf(stat, bins - 1))
    assert psi_p_value(0.3, 1, 10, 10) == 1.0
    assert np.isnan(psi_p_value(0.3, 5, 0, 10))


def test_sampling_noise_alone_is_rarely_significant():
    """Two multinomial samples of one distribution: the 1% test fires about 1% of the time."""
    rng = np.random.default_rng(11)
    p = np.array([0.3, 0.2, 0.15, 0.1, 0.1, 0.05, 0.05, 0.05])
    p_values = []
    for _ in range(400):
        a, b = rng.multinomial(800, p), rng.multinomial(1200, p)
        occupied = int(np.count_nonzero(a + b))
        p_values.append(psi_p_value(psi(a, b), occupied, 800, 1200))
    assert np.mean(np.array(p_values) < 0.01) < 0.04
    # and a real shift of that size is always caught
    q = p[::-1]
    a, b = rng.multinomial(800, p), rng.multinomial(1200, q)
    assert psi_p_value(psi(a, b), 8, 800, 1200) < 1e-6


def test_psi_edges_are_deciles_on_continuous_data_and_keep_point_masses_apart():
    rng = np.random.default_rng(5)
    x = rng.normal(size=5000)
    fine = np.quantile(x, np.arange(1, 50) / 50, method="inverted_cdf")
    counts = np.bincount(np.searchsorted(fine, x, "left"), minlength=50)
    edges = psi_edges(fine, counts, 10)
    assert len(edges) == 9
    np.testing.assert_allclose(edges, fine[4::5][:9])
    # 9 % zeros and 91 % ones: deciles would all be 1.0 and merge the zeros in
    fine = np.array([0.0, 1.0])
    edges = psi_edges(fine, np.array([9, 91, 0]), 10)
    assert list(edges) == [0.0, 1.0]
    assert psi_edges(np.array([]), np.array([10]), 10).size == 0
    assert psi_edges(np.array([1.0, 2.0]), np.array([0, 0, 0]), 10).size == 0


def test_coarsen_merges_fine_bins_like_a_direct_histogram():
    rng = np.random.default_rng(6)
    x = rng.exponential(size=3000)
    fine = np.unique(np.quantile(x, np.arange(1, 20) / 20))
    coarse = fine[[3, 9, 15]]
    fine_counts = np.bincount(np.searchsorted(fine, x, "left"), minlength=fine.size + 1)
    direct = np.bincount(np.searchsorted(coarse, x, "left"), minlength=coarse.size + 1)
    np.testing.assert_array_equal(coarsen(fine, fine_counts, coarse), direct)
    with pytest.raises(InputError, match="subset"):
        coarsen(fine, fine_counts, np.array([0.123456]))
    with pytest.raises(InputError, match="counts for"):
        coarsen(fine, fine_counts[:-1], coarse)


def test_helpers_and_bad_input():
    assert worst(["none", "major", "minor"]) == "major"
    assert worst([]) == "none"
    with pytest.raises(InputError, match="unknown severities"):
        worst(["fatal"])
    assert quantile_levels(10, 50)[:2] == [0.02, 0.04]
    assert len(quantile_levels(10, 50)) == 49
    with pytest.raises(InputError, match="multiple"):
        quantile_levels(10, 25)
    with pytest.raises(InputError, match="bins"):
        quantile_levels(1, 10)
    np.testing.assert_array_equal(unique_edges([3.0, np.nan, 1.0, 3.0, np.inf]), [1.0, 3.0])
    with pytest.raises(InputError, match="different numbers of bins"):
        psi([1, 2], [1, 2, 3])
    with pytest.raises(InputError, match="empty"):
        psi([0, 0], [1, 2])
    with pytest.raises(InputError, match="non-negative"):
        js_distance([1, -1], [1, 2])
    with pytest.raises(InputError, match="minor <= major"):
        Thresholds(minor=0.3, major=0.2)
    with pytest.raises(InputError, match="alpha"):
        Thresholds(alpha=1.5)
