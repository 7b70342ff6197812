"""Evaluation metrics for bot and attack models, as plain JSON-ready dictionaries.

Binary metrics take ``y_true`` with 1 = bad (automated, attack) and 0 = good (human, clean),
the model's (calibrated) probability of the bad class and its 1–99 score; the operating
point is the product's: a row is *flagged* when its score is below 30. Values that are
undefined on the data given (ROC-AUC with one class, recall with no bad rows) are ``None``,
never NaN, so the output always serialises as strict JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    roc_auc_score,
)

from workbench.errors import InputError
from workbench.models.calibration import BAD_SCORE_THRESHOLD


def _num(value: float) -> float | None:
    value = float(value)
    return None if not np.isfinite(value) else round(value, 6)


def _binary_labels(y_true: Any, name: str = "y_true") -> np.ndarray:
    y = np.asarray(y_true).ravel()
    if y.dtype == bool:
        return y.astype(np.int8)
    if not np.isin(y, [0, 1]).all():
        raise InputError(f"{name} must be 0/1 or boolean (1 = bad: attack or automated)")
    return y.astype(np.int8)


def _probabilities(p: Any, n: int, name: str = "p_bad") -> np.ndarray:
    p = np.asarray(p, dtype=np.float64).ravel()
    if len(p) != n:
        raise InputError(f"{name} has {len(p)} values for {n} labels")
    if n and (not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1):
        raise InputError(f"{name} must hold probabilities in [0, 1]")
    return p


def reliability_curve(y_true: Any, p_bad: Any, n_bins: int = 10) -> list[dict[str, Any]]:
    """Return the reliability curve: mean predicted vs observed bad rate per probability bin.

    Parameters
    ----------
    y_true : array-like of {0, 1}
        1 = bad.
    p_bad : array-like of float
        Predicted probability of bad.
    n_bins : int, default 10
        Equal-width bins over ``[0, 1]``.

    Returns
    -------
    list of dict
        One entry per non-empty bin: ``lower``, ``upper``, ``count``, ``mean_predicted``,
        ``fraction_bad``.
    """
    y = _binary_labels(y_true)
    p = _probabilities(p_bad, len(y))
    if n_bins < 1:
        raise InputError(f"n_bins must be positive, got {n_bins}")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1], right=True), 0, n_bins - 1)
    curve = []
    for b in range(n_bins):
        in_bin = which == b
        count = int(in_bin.sum())
        if count:
            curve.append(
                {
                    "lower": _num(edges[b]),
                    "upper": _num(edges[b + 1]),
                    "count": count,
                    "mean_predicted": _num(p[in_bin].mean()),
                    "fraction_bad": _num(y[in_bin].mean()),
                }
            )
    return curve


def expected_calibration_error(y_true: Any, p_bad: Any, n_bins: int = 10) -> float | None:
    """Return the expected calibration error (count-weighted mean of |predicted - observed|).

    Parameters
    ----------
    y_true : array-like of {0, 1}
        1 = bad.
    p_bad : array-like of float
        Predicted probability of bad.
    n_bins : int, default 10
        Equal-width bins over ``[0, 1]``.

    Returns
    -------
    float or None
        The ECE in ``[0, 1]``; ``None`` for no rows.
    """
    curve = reliability_curve(y_true, p_bad, n_bins)
    total = sum(b["count"] for b in curve)
    if not total:
        return None
    gap = sum(b["count"] * abs(b["mean_predicted"] - b["fraction_bad"]) for b in curve)
    return _num(gap / total)


def evaluate_binary(
    y_true: Any,
    p_bad: Any,
    score: Any,
    groups: Sequence[Any] | None = None,
    threshold: int = BAD_SCORE_THRESHOLD,
    n_bins: int = 10,
) -> dict[str, Any]:
    """Evaluate a bad-vs-good model at the product's operating point (score below 30).

    Parameters
    ----------
    y_true : array-like of {0, 1} or bool
        1 = bad (automated, attack), 0 = good (human, clean).
    p_bad : array-like of float
        Calibrated probability of bad (used for ROC-AUC, PR-AUC and calibration).
    score : array-like of int
        The 1–99 score (1 = bad); a row is flagged when ``score < threshold``.
    groups : sequence, optional
        A group per row (actor, attack class); per-group flag rate and recall.
    threshold : int, default 30
        Flag rows whose score is below this.
    n_bins : int, default 10
        Bins of the reliability curve.

    Returns
    -------
    dict
        ``n``, ``n_bad``, ``roc_auc``, ``pr_auc``, ``precision``, ``recall``, ``f1``,
        ``fpr`` (share of good rows flagged), ``confusion_matrix`` (rows true good/bad,
        columns flagged no/yes), ``reliability_curve``, ``ece`` and, with groups,
        ``per_group``: ``{group: {n, n_bad, flagged, flag_rate, recall}}``.

    Raises
    ------
    InputError
        When lengths differ or labels, probabilities or scores are out of range.
    """
    y = _binary_labels(y_true)
    n = len(y)
    p = _probabilities(p_bad, n)
    s = np.asarray(score).ravel()
    if len(s) != n:
        raise InputError(f"score has {len(s)} values for {n} labels")
    if n and (s.min() < 1 or s.max() > 99):
        raise InputError("score must lie in 1..99")
    flagged = (s < threshold).astype(np.int8)
    both = 0 < y.sum() < n
    tn, fp, fn, tp = confusion_matrix(y, flagged, labels=[0, 1]).ravel().tolist()
    out: dict[str, Any] = {
        "n": n,
        "n_bad": int(y.sum()),
        "threshold": threshold,
        "roc_auc": _num(roc_auc_score(y, p)) if both else None,
        "pr_auc": _num(average_precision_score(y, p)) if y.sum() else None,
        "precision": _num(tp / (tp + fp)) if tp + fp else None,
        "recall": _num(tp / (tp + fn)) if tp + fn else None,
        "f1": _num(2 * tp / (2 * tp + fp + fn)) if tp + fp + fn else None,
        "fpr": _num(fp / (fp + tn)) if fp + tn else None,
        "confusion_matrix": {
            "labels": ["good", "bad"],
            "columns": ["pass", "flag"],
            "matrix": [[tn, fp], [fn, tp]],
        },
        "reliability_curve": reliability_curve(y, p, n_bins),
        "ece": expected_calibration_error(y, p, n_bins),
    }
    if groups is not None:
        g = np.asarray([str(v) for v in np.asarray(groups, dtype=object).ravel()])
        if len(g) != n:
            raise InputError(f"groups has {len(g)} values for {n} labels")
        names, which = np.unique(g, return_inverse=True)
        per_group = {}
        for i, name in enumerate(names.tolist()):
            in_group = which == i
            n_bad = int(y[in_group].sum())
            n_flag = int(flagged[in_group].sum())
            caught = int((flagged[in_group] & y[in_group]).sum())
            per_group[name] = {
                "n": int(in_group.sum()),
                "n_bad": n_bad,
                "flagged": n_flag,
                "flag_rate": _num(n_flag / in_group.sum()),
                "recall": _num(caught / n_bad) if n_bad else None,
            }
        out["per_group"] = per_group
    return out


def evaluate_multiclass(y_true: Any, y_pred: Any, labels: Sequence[str]) -> dict[str, Any]:
    """Evaluate a multiclass prediction (the attack head: clean, sqli, xss, ...).

    Parameters
    ----------
    y_true, y_pred : array-like of str
        True and predicted class names.
    labels : sequence of str
        All class names, in the order used for the confusion matrix. The first one is
        the good class (``clean``): ``macro_f1_attacks`` averages over the others.

    Returns
    -------
    dict
        ``n``, ``accuracy``, ``macro_f1`` (over classes present in ``y_true``),
        ``macro_f1_attacks``, ``per_class`` ``{name: {precision, recall, f1, support}}`` and
        ``confusion_matrix`` (rows true, columns predicted, in ``labels`` order).

    Raises
    ------
    InputError
        When lengths differ or a name is not one of ``labels``.
    """
    t = np.asarray(y_true, dtype=object).ravel()
    p = np.asarray(y_pred, dtype=object).ravel()
    labels = [str(x) for x in labels]
    if len(t) != len(p):
        raise InputError(f"y_pred has {len(p)} values for {len(t)} labels")
    unknown = sorted({str(v) for v in np.concatenate([t, p])} - set(labels))
    if unknown:
        raise InputError(f"class names {unknown} are not among the labels {labels}")
    present = [c for c in labels if (t == c).any()]
    precision, recall, f1, support = precision_recall_fscore_support(
        t, p, labels=labels, zero_division=0
    )
    per_class = {
        c: {
            "precision": _num(precision[i]),
            "recall": _num(recall[i]),
            "f1": _num(f1[i]),
            "support": int(support[i]),
        }
        for i, c in enumerate(labels)
    }
    attacks = [c for c in present if c != labels[0]]
    return {
        "n": len(t),
        "accuracy": _num((t == p).mean()) if len(t) else None,
        "macro_f1": _num(f1_score(t, p, labels=present, average="macro", zero_division=0))
        if present
        else None,
        "macro_f1_attacks": _num(f1_score(t, p, labels=attacks, average="macro", zero_division=0))
        if attacks
        else None,
        "per_class": per_class,
        "confusion_matrix": {
            "labels": labels,
            "matrix": confusion_matrix(t, p, labels=labels).tolist(),
        },
    }
