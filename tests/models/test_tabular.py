"""The LightGBM entity model and the rule baseline: conventions, determinism, saving."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from tests.models.entity_fixtures import FEATURES, make_entities, split3
from workbench.errors import InputError
from workbench.models.baselines import Rule, RuleBaseline, best_threshold
from workbench.models.tabular import (
    TabularClassifier,
    class_weights,
    compare_backends,
    feature_matrix,
)


@pytest.fixture(scope="module")
def data():
    return split3(make_entities(1500, seed=1))


@pytest.fixture(scope="module")
def fitted(data) -> TabularClassifier:
    tr, va, _ = data
    return TabularClassifier(seed=3, n_threads=1).fit(tr[FEATURES], tr["y"], va[FEATURES], va["y"])


def test_fit_predict_conventions(fitted, data) -> None:
    _, _, te = data
    assert fitted.feature_names_ == FEATURES
    assert 1 <= fitted.best_iteration_ < fitted.n_estimators  # early stopping ended it
    proba = fitted.predict_proba(te[FEATURES])
    assert proba.shape == (len(te), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    score = fitted.score_1_99(te[FEATURES])
    assert score.min() >= 1 and score.max() <= 99
    # 1 = automated: bots score low, humans high
    y = te["y"].to_numpy()
    assert np.median(score[y == 1]) < 30 < np.median(score[y == 0])
    assert average_precision_score(y, fitted.predict_bad_proba(te[FEATURES])) > 0.95
    np.testing.assert_array_equal(fitted.predict(te[FEATURES]), (score < 30).astype(np.int8))


def test_columns_are_matched_by_name(fitted, data) -> None:
    _, _, te = data
    shuffled = te[FEATURES[::-1] + ["ClientIP"]]
    np.testing.assert_array_equal(
        fitted.predict_bad_proba(shuffled), fitted.predict_bad_proba(te[FEATURES])
    )
    with pytest.raises(InputError, match="burst_share"):
        fitted.predict_bad_proba(te[FEATURES].drop(columns=["burst_share"]))


def test_same_seed_same_trees_other_seed_other_trees(data) -> None:
    tr, va, _ = data
    args = (tr[FEATURES], tr["y"], va[FEATURES], va["y"])
    a = TabularClassifier(seed=5, n_threads=1).fit(*args).state()["model_text"]
    b = TabularClassifier(seed=5, n_threads=1).fit(*args).state()["model_text"]
    c = TabularClassifier(seed=6, n_threads=1).fit(*args).state()["model_text"]
    assert a == b
    assert a != c


def test_state_round_trip_predicts_identically(fitted, data) -> None:
    _, _, te = data
    state = fitted.state()
    assert "feature_names" in state["config"] and state["model_text"].startswith("tree")
    again = TabularClassifier.from_state(state["config"], state["model_text"].encode())
    np.testing.assert_array_equal(again.score_1_99(te[FEATURES]), fitted.score_1_99(te[FEATURES]))
    np.testing.assert_array_equal(
        again.decision_function(te[FEATURES]), fitted.decision_function(te[FEATURES])
    )
    with pytest.raises(InputError, match="not 'tabular'"):
        TabularClassifier.from_state({**state["config"], "kind": "charcnn"}, state["model_text"])
    with pytest.raises(InputError, match="feature names"):
        TabularClassifier.from_state(
            {**state["config"], "feature_names": FEATURES[::-1]}, state["model_text"]
        )


def test_bad_inputs_are_named(data) -> None:
    tr, va, _ = data
    model = TabularClassifier(n_threads=1)
    with pytest.raises(InputError, match="both automated and human"):
        model.fit(tr[FEATURES], np.ones(len(tr)), va[FEATURES], va["y"])
    with pytest.raises(InputError, match="0/1"):
        model.fit(tr[FEATURES], np.full(len(tr), 2), va[FEATURES], va["y"])
    with pytest.raises(InputError, match="not numeric"):
        model.fit(tr[FEATURES].assign(noise="x"), tr["y"], va[FEATURES], va["y"])
    with pytest.raises(InputError, match="not fitted"):
        TabularClassifier().predict_bad_proba(tr[FEATURES])
    with pytest.raises(InputError, match="n_threads"):
        TabularClassifier(n_threads=0).lgb_params()
    with pytest.raises(InputError, match="colsample_bytree"):
        TabularClassifier(colsample_bytree=0).lgb_params()


def test_feature_matrix_and_class_weights() -> None:
    values, names = feature_matrix(pd.DataFrame({"a": [1, None], "b": [True, False]}))
    assert names == ["a", "b"] and np.isnan(values[1, 0]) and values[0, 1] == 1.0
    with pytest.raises(InputError, match="2-D"):
        feature_matrix(np.zeros(3))
    y = np.array([1, 1, 1, 0], dtype=np.int8)
    w = class_weights(y, "balanced")
    assert w[y == 1].sum() == pytest.approx(w[y == 0].sum())
    np.testing.assert_array_equal(class_weights(y, {0: 5, 1: 1}), [1, 1, 1, 5])
    with pytest.raises(InputError):
        class_weights(y, "sqrt")


def test_compare_backends_measures_both_on_one_split(data) -> None:
    tr, va, te = data
    out = compare_backends(
        tr[FEATURES], tr["y"], va[FEATURES], va["y"], te[FEATURES], te["y"], seed=0
    )
    for lib in ("lightgbm", "sklearn_hgb"):
        assert out[lib]["fit_seconds"] > 0 and out[lib]["predict_us_per_row"] > 0
        assert out[lib]["pr_auc"] > 0.9 and out[lib]["rounds"] >= 1
    assert out["chosen"] == "lightgbm"


# -- the rule baseline -------------------------------------------------------------------------
def test_best_threshold_finds_the_separating_cut() -> None:
    values = np.array([0.0, 0.1, 0.2, 0.8, 0.9, np.nan])
    y = np.array([0, 0, 0, 1, 1, 1])
    threshold, bal = best_threshold(values, y, "high")
    assert threshold == 0.8 and bal == pytest.approx(0.5 * (2 / 3 + 1.0))
    threshold, bal = best_threshold(values, 1 - y, "low")
    assert threshold == 0.2 and bal == pytest.approx(1.0)
    with pytest.raises(InputError, match="direction"):
        best_threshold(values, y, "up")


def test_rule_baseline_learns_rules_and_scores(data) -> None:
    tr, va, te = data
    base = RuleBaseline().fit(tr, tr["y"], va, va["y"])
    assert [r.feature for r in base.rules_] == [
        "bot_ua_share",
        "rate_per_minute_peak",
        "asset_share",
    ]
    rules = {r.feature: r for r in base.rules_}
    assert rules["asset_share"].direction == "low" and 0 < rules["asset_share"].threshold < 0.6
    assert rules["asset_share"].weight > rules["bot_ua_share"].weight
    score = base.score_1_99(te)
    assert score.min() >= 1 and score.max() <= 99
    assert average_precision_score(te["y"], base.predict_bad_proba(te)) > 0.8
    again = RuleBaseline.from_dict(base.to_dict())
    np.testing.assert_array_equal(again.score_1_99(te), score)
    assert any("asset_share <=" in text for text in base.describe())


def test_rule_baseline_missing_feature_and_useless_rules(data) -> None:
    tr, va, _ = data
    with pytest.raises(InputError, match="status_429_share"):
        RuleBaseline(rules=[Rule("status_429_share", "high")]).fit(tr, tr["y"], va, va["y"])
    empty = tr.assign(asset_share=np.nan)
    base = RuleBaseline(rules=[Rule("asset_share", "low")]).fit(
        empty, tr["y"], va.assign(asset_share=np.nan), va["y"]
    )
    assert base.rules_[0].threshold is None  # never fires
    assert not base.rules_[0].fires(np.array([0.0, 1.0])).any()
