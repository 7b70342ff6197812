"""Permutation SHAP for the anomaly detectors: exact additivity, background, errors."""

from __future__ import annotations

import numpy as np
import pytest

from tests.models.entity_fixtures import FEATURES, make_entities, split3
from workbench.errors import InputError
from workbench.explain import explain_anomaly
from workbench.explain.agnostic import permutation_shap
from workbench.models.anomaly import AnomalyDetector
from workbench.models.tabular import TabularClassifier


@pytest.fixture(scope="module")
def data():
    return split3(make_entities(900, seed=6))


@pytest.mark.parametrize("detector", ["iforest", "hbos"])
def test_values_add_up_to_the_robust_z(data, detector: str) -> None:
    tr, _, te = data
    model = AnomalyDetector(detector, seed=0, n_estimators=40).fit(tr[FEATURES])
    rows = te.head(4)
    exp = explain_anomaly(model, rows, tr, n_background=20, seed=1)
    assert exp.values.shape == (4, len(FEATURES)) and list(exp.feature_names) == FEATURES
    total = exp.values.sum(axis=1) + exp.base_values
    np.testing.assert_allclose(total, model.robust_z(rows), atol=1e-8)
    # the base value is the mean output over the background sample
    again = explain_anomaly(model, rows, tr, n_background=20, seed=1)
    np.testing.assert_array_equal(again.values, exp.values)


def test_the_feature_that_makes_an_entity_odd_gets_the_credit(data) -> None:
    tr, _, _ = data
    model = AnomalyDetector("hbos").fit(tr[FEATURES])
    odd = tr.head(1).copy()
    odd["noise"] = 40.0  # far outside every training value
    exp = explain_anomaly(model, odd, tr, n_background=20)
    assert FEATURES[int(np.argmax(exp.values[0]))] == "noise"


def test_other_outputs_and_errors(data) -> None:
    tr, va, te = data
    tab = TabularClassifier(n_threads=1).fit(tr[FEATURES], tr["y"], va[FEATURES], va["y"])
    exp = explain_anomaly(tab, te.head(2), tr, n_background=10, output="log_odds")
    np.testing.assert_allclose(
        exp.values.sum(axis=1) + exp.base_values, tab.decision_function(te.head(2)), atol=1e-8
    )
    model = AnomalyDetector("hbos").fit(tr[FEATURES])
    with pytest.raises(InputError, match="log_odds"):
        explain_anomaly(model, te.head(1), tr, output="log_odds")
    with pytest.raises(InputError, match="output"):
        explain_anomaly(model, te.head(1), tr, output="rank")
    with pytest.raises(InputError, match="n_permutations"):
        explain_anomaly(model, te.head(1), tr, n_permutations=0)
    with pytest.raises(InputError, match="background"):
        explain_anomaly(model, te.head(1), tr.head(0))
    with pytest.raises(InputError, match="fitted"):
        explain_anomaly(AnomalyDetector(), te.head(1), tr)


def _exact_shapley(f, x: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """Brute force over all subsets, with the same background-mean value function."""
    from itertools import combinations
    from math import factorial

    n = len(x)

    def value(subset) -> float:
        rows = bg.copy()
        rows[:, list(subset)] = x[list(subset)]
        return float(f(rows).mean())

    phi = np.zeros(n)
    for i in range(n):
        others = [j for j in range(n) if j != i]
        for k in range(n):
            for s in combinations(others, k):
                w = factorial(k) * factorial(n - k - 1) / factorial(n)
                phi[i] += w * (value((*s, i)) - value(s))
    return phi


def test_permutation_estimates_converge_to_exact_shapley_values() -> None:
    rng = np.random.default_rng(0)
    bg = rng.normal(size=(15, 4))
    x = np.array([1.5, -2.0, 0.3, 2.5])

    def f(v: np.ndarray) -> np.ndarray:  # interactions, so orderings matter
        return v[:, 0] * v[:, 1] + np.maximum(v[:, 2], 0) * v[:, 3] + v[:, 3] ** 2

    exact = _exact_shapley(f, x, bg)
    values, base = permutation_shap(f, x[None, :], bg, n_permutations=400, seed=0)
    np.testing.assert_allclose(values[0].sum() + base[0], f(x[None, :])[0], atol=1e-9)
    np.testing.assert_allclose(values[0], exact, atol=0.05 * np.abs(exact).max())
    # a linear model is explained exactly by any single ordering
    w = np.array([1.0, -2.0, 0.5, 3.0])
    lin, _ = permutation_shap(lambda v: v @ w, x[None, :], bg, n_permutations=1)
    np.testing.assert_allclose(lin[0], w * (x - bg.mean(axis=0)), atol=1e-12)
