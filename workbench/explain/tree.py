"""Exact tree SHAP for the tabular model: per-entity values, global importance, waterfalls.

The explained output is the model's raw log-odds of *automated* (before calibration; the
calibrated probability and the bot score are monotone in it). ``shap.TreeExplainer`` reads
the LightGBM booster directly and computes exact (path-dependent) SHAP values, so for every
entity ``base_value + sum(values) == log-odds`` to floating-point precision.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import shap

from workbench.errors import InputError
from workbench.models.tabular import TabularClassifier, feature_matrix

OUTPUT_NAME = "log-odds of automated"


def explain_tabular(
    model: TabularClassifier, X: Any, instance_names: Any = None
) -> shap.Explanation:
    """Return exact tree SHAP values of the tabular model for some entities.

    Parameters
    ----------
    model : TabularClassifier
        A fitted (or loaded) model.
    X : pandas.DataFrame
        Entity features (columns matched by name; extra columns ignored).
    instance_names : sequence, optional
        A name per row (the entity key), kept on the explanation.

    Returns
    -------
    shap.Explanation
        ``values`` ``(N, F)``, ``base_values`` ``(N,)``, ``data`` ``(N, F)`` and
        ``feature_names``; the output is the log-odds of automated.

    Raises
    ------
    InputError
        When the model is not fitted or a feature column is missing.
    """
    if not hasattr(model, "booster_"):
        raise InputError("explain_tabular needs a fitted TabularClassifier")
    values, names = feature_matrix(X, model.feature_names_)
    explainer = shap.TreeExplainer(model.booster_)
    with warnings.catch_warnings():  # shap notes that binary LightGBM output may be a list
        warnings.simplefilter("ignore", UserWarning)
        raw = explainer.shap_values(values, check_additivity=True)
    raw = np.asarray(raw[1] if isinstance(raw, list) else raw, dtype=np.float64)
    expected = np.asarray(explainer.expected_value, dtype=np.float64).ravel()
    base = float(expected[-1])
    return shap.Explanation(
        values=raw,
        base_values=np.full(len(values), base),
        data=values,
        feature_names=list(names),
        instance_names=None if instance_names is None else list(instance_names),
        output_names=OUTPUT_NAME,
    )


def global_importance(explanation: shap.Explanation) -> pd.DataFrame:
    """Rank features by mean absolute SHAP value over the explained rows.

    Parameters
    ----------
    explanation : shap.Explanation
        Two-dimensional values ``(N, F)`` with feature names.

    Returns
    -------
    pandas.DataFrame
        ``feature``, ``mean_abs_shap``, ``share`` (of the total) and ``mean_shap`` (signed:
        positive pushes towards automated), most important first.
    """
    values = np.asarray(explanation.values, dtype=np.float64)
    if values.ndim != 2:
        raise InputError(f"global importance needs (rows, features) values, got {values.shape}")
    names = list(explanation.feature_names or [f"f{i}" for i in range(values.shape[1])])
    mean_abs = np.abs(values).mean(axis=0) if len(values) else np.zeros(values.shape[1])
    total = mean_abs.sum()
    frame = pd.DataFrame(
        {
            "feature": names,
            "mean_abs_shap": mean_abs,
            "share": mean_abs / total if total > 0 else np.zeros_like(mean_abs),
            "mean_shap": values.mean(axis=0) if len(values) else np.zeros(values.shape[1]),
        }
    )
    return frame.sort_values(
        ["mean_abs_shap", "feature"], ascending=[False, True], kind="stable"
    ).reset_index(drop=True)


def entity_waterfall(explanation: shap.Explanation, row: int | str) -> shap.Explanation:
    """Return one entity's explanation (what ``shap.plots.waterfall`` and ours draw).

    Parameters
    ----------
    explanation : shap.Explanation
        From :func:`explain_tabular`.
    row : int or str
        Row position, or an instance name (the entity key).

    Returns
    -------
    shap.Explanation
        One-dimensional values, a scalar base value.
    """
    n = len(explanation.values)
    if isinstance(row, str):
        names = list(explanation.instance_names or [])
        if row not in names:
            raise InputError(f"no explained entity named {row!r}")
        row = names.index(row)
    if not -n <= int(row) < n:
        raise InputError(f"row {row} is outside the {n} explained entities")
    return explanation[int(row)]
