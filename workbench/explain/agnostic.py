"""Model-agnostic SHAP for the anomaly detectors (and any entity model): permutation sampling.

For each entity, random feature orderings are walked forwards and then backwards
(antithetic pairs): starting from the background (a small sample of training entities),
one feature at a time takes the entity's value, and the feature is credited with the change
of the mean output over the background rows. This is the algorithm of
``shap.PermutationExplainer`` with shap's independent masker; it is written here in numpy
because shap's version JIT-compiles numba kernels on first use (18 s per process on the
project's 2-core machines, more than the explanations themselves). Every walk telescopes
from the background output to the entity's output, so the values add up exactly:
``base_value + sum(values) == f(x)``, ``base_value`` being the mean output over the
background. The default output is the detector's robust z of the anomaly score (positive
values push towards anomalous).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import shap

from workbench.errors import InputError
from workbench.models.tabular import feature_matrix

#: What the explanations of each output mean.
OUTPUTS = {
    "z": "robust z of the anomaly score",
    "probability": "probability of anomalous",
    "log_odds": "log-odds of automated",
}


def _output_function(
    model: Any, names: list[str], output: str
) -> Callable[[np.ndarray], np.ndarray]:
    def frame(values: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(np.asarray(values, dtype=np.float64), columns=names)

    if output == "z" and hasattr(model, "robust_z"):
        return lambda v: model.robust_z(frame(v))
    if output == "probability" and hasattr(model, "predict_bad_proba"):
        return lambda v: model.predict_bad_proba(frame(v))
    if output == "log_odds" and hasattr(model, "decision_function"):
        return lambda v: model.decision_function(frame(v))
    raise InputError(f"a {type(model).__name__} cannot give the {output!r} output")


def permutation_shap(
    f: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    background: np.ndarray,
    n_permutations: int = 10,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Estimate Shapley values of ``f`` by antithetic permutation sampling.

    Parameters
    ----------
    f : callable
        Maps ``(n, F)`` inputs to ``(n,)`` outputs.
    X : numpy.ndarray
        ``(N, F)`` rows to explain.
    background : numpy.ndarray
        ``(B, F)`` rows standing for "feature unknown".
    n_permutations : int, default 10
        Orderings per row, each walked forwards and backwards (``2 * n_permutations`` walks,
        ``2 * n_permutations * (F + 1) * B`` evaluations of ``f`` per row).
    seed : int, default 0

    Returns
    -------
    tuple of numpy.ndarray
        ``values`` ``(N, F)`` and ``base_values`` ``(N,)`` (the mean output over the
        background); ``base + values.sum(1) == f(X)`` up to rounding.
    """
    X = np.asarray(X, dtype=np.float64)
    bg = np.asarray(background, dtype=np.float64)
    n, n_features = X.shape
    if int(n_permutations) < 1:
        raise InputError("n_permutations must be positive")
    rng = np.random.default_rng(seed)
    values = np.zeros((n, n_features))
    base = float(np.mean(f(bg)))
    steps = np.arange(n_features + 1)
    for row in range(n):
        total = np.zeros(n_features)
        walks = 0
        for _ in range(int(n_permutations)):
            order = rng.permutation(n_features)
            for perm in (order, order[::-1]):
                # masks[k] sets the first k features of the ordering to the row's values
                masks = np.zeros((n_features + 1, n_features), dtype=bool)
                rank = np.empty(n_features, dtype=np.int64)
                rank[perm] = np.arange(n_features)
                masks[:, :] = rank[None, :] < steps[:, None]
                inputs = np.where(masks[:, None, :], X[row][None, None, :], bg[None, :, :])
                out = np.asarray(f(inputs.reshape(-1, n_features)), dtype=np.float64)
                means = out.reshape(n_features + 1, len(bg)).mean(axis=1)
                total[perm] += np.diff(means)
                walks += 1
        values[row] = total / walks
    return values, np.full(n, base)


def explain_anomaly(
    model: Any,
    X: Any,
    background: Any,
    n_background: int = 50,
    n_permutations: int = 10,
    output: str = "z",
    seed: int = 0,
    instance_names: Any = None,
) -> shap.Explanation:
    """Explain an anomaly detector (or any entity model) with permutation SHAP.

    Parameters
    ----------
    model : AnomalyDetector or TabularClassifier
        A fitted entity model.
    X : pandas.DataFrame
        Entities to explain (columns matched by name to the model's features).
    background : pandas.DataFrame
        Entities standing for "typical" (training entities); a seeded sample of
        ``n_background`` rows is used.
    n_background : int, default 50
        Background rows (cost grows linearly with it).
    n_permutations : int, default 10
        Feature orderings per entity, each walked both ways.
    output : {"z", "probability", "log_odds"}, default "z"
        What to explain (``log_odds`` for a tabular model).
    seed : int, default 0
        Seeds the background sample and the orderings.
    instance_names : sequence, optional

    Returns
    -------
    shap.Explanation
        ``values`` ``(N, F)``, ``base_values`` ``(N,)``, ``data``, ``feature_names``.

    Raises
    ------
    InputError
        On an unfitted model, missing columns or bad sizes.
    """
    names = getattr(model, "feature_names_", None)
    if names is None:
        raise InputError("explain_anomaly needs a fitted model")
    if output not in OUTPUTS:
        raise InputError(f"output must be one of {sorted(OUTPUTS)}, not {output!r}")
    values, names = feature_matrix(X, names)
    bg, _ = feature_matrix(background, names)
    if not len(bg):
        raise InputError("the background holds no entities")
    if int(n_background) < 1:
        raise InputError("n_background must be positive")
    rng = np.random.default_rng(seed)
    if len(bg) > n_background:
        bg = bg[np.sort(rng.choice(len(bg), int(n_background), replace=False))]
    f = _output_function(model, list(names), output)
    shap_values, base = permutation_shap(f, values, bg, n_permutations, seed)
    return shap.Explanation(
        values=shap_values,
        base_values=base,
        data=values,
        feature_names=list(names),
        instance_names=None if instance_names is None else list(instance_names),
        output_names=OUTPUTS[output],
    )
