"""Evaluation metrics: hand-checked values, undefined cases and strict JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from workbench.errors import InputError
from workbench.models import (
    evaluate_binary,
    evaluate_multiclass,
    expected_calibration_error,
    reliability_curve,
)


def test_binary_metrics_by_hand() -> None:
    y = [1, 1, 1, 0, 0, 0, 0, 0]
    p = [0.9, 0.8, 0.2, 0.7, 0.1, 0.1, 0.05, 0.3]
    score = [5, 10, 80, 20, 90, 95, 97, 60]  # flagged: rows 0, 1, 3
    groups = ["sqli", "xss", "xss", "clean", "clean", "clean", "clean", "clean"]
    m = evaluate_binary(y, p, score, groups=groups)
    assert m["n"] == 8 and m["n_bad"] == 3
    assert m["confusion_matrix"]["matrix"] == [[4, 1], [1, 2]]
    assert m["precision"] == pytest.approx(2 / 3, abs=1e-6)
    assert m["recall"] == pytest.approx(2 / 3, abs=1e-6)
    assert m["f1"] == pytest.approx(2 / 3, abs=1e-6)
    assert m["fpr"] == pytest.approx(1 / 5, abs=1e-6)
    # pairs (bad, good) ranked right: 0.9 and 0.8 beat all 5; 0.2 beats 0.1, 0.1, 0.05
    assert m["roc_auc"] == pytest.approx((5 + 5 + 3) / 15, abs=1e-6)
    assert m["per_group"]["xss"] == {
        "n": 2, "n_bad": 2, "flagged": 1, "flag_rate": 0.5, "recall": 0.5
    }  # fmt: skip
    assert m["per_group"]["clean"]["recall"] is None
    assert m["per_group"]["clean"]["flag_rate"] == pytest.approx(0.2)
    json.dumps(m, allow_nan=False)


def test_undefined_values_are_none_not_nan() -> None:
    m = evaluate_binary([0, 0, 0], [0.1, 0.2, 0.3], [90, 90, 90])
    assert m["roc_auc"] is None and m["pr_auc"] is None and m["recall"] is None
    assert m["precision"] is None and m["fpr"] == 0.0
    json.dumps(m, allow_nan=False)


def test_reliability_curve_and_ece() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([0.05, 0.05, 0.95, 0.95])
    curve = reliability_curve(y, p, n_bins=10)
    assert [b["count"] for b in curve] == [2, 2]
    assert curve[0]["fraction_bad"] == 0.0 and curve[1]["fraction_bad"] == 1.0
    assert expected_calibration_error(y, p) == pytest.approx(0.05)
    assert expected_calibration_error([0, 1], [1.0, 0.0]) == pytest.approx(1.0)
    assert expected_calibration_error([], []) is None


def test_multiclass_by_hand() -> None:
    labels = ["clean", "sqli", "xss", "traversal", "cmdi"]
    t = ["clean", "clean", "sqli", "sqli", "xss", "cmdi"]
    p = ["clean", "sqli", "sqli", "sqli", "clean", "cmdi"]
    m = evaluate_multiclass(t, p, labels)
    assert m["accuracy"] == pytest.approx(4 / 6, abs=1e-6)
    assert m["per_class"]["sqli"] == {
        "precision": pytest.approx(2 / 3, abs=1e-6), "recall": 1.0, "f1": 0.8, "support": 2
    }  # fmt: skip
    assert m["per_class"]["traversal"]["support"] == 0
    # macro over present classes (traversal absent): clean .5, sqli .8, xss 0, cmdi 1
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 0 + 1) / 4, abs=1e-6)
    assert m["macro_f1_attacks"] == pytest.approx((0.8 + 0 + 1) / 3, abs=1e-6)
    assert m["confusion_matrix"]["matrix"][0] == [1, 1, 0, 0, 0]
    json.dumps(m, allow_nan=False)


def test_bad_inputs_are_named() -> None:
    with pytest.raises(InputError, match="score has 1 values"):
        evaluate_binary([0, 1], [0.1, 0.9], [50])
    with pytest.raises(InputError, match="1..99"):
        evaluate_binary([0, 1], [0.1, 0.9], [0, 50])
    with pytest.raises(InputError, match="0/1"):
        evaluate_binary([0, 2], [0.1, 0.9], [50, 50])
    with pytest.raises(InputError, match="probabilities"):
        evaluate_binary([0, 1], [0.1, np.nan], [50, 50])
    with pytest.raises(InputError, match="groups"):
        evaluate_binary([0, 1], [0.1, 0.9], [50, 50], groups=["a"])
    with pytest.raises(InputError, match="not among the labels"):
        evaluate_multiclass(["sqli"], ["rce"], ["clean", "sqli"])
