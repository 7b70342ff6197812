"""Exact tree SHAP for the tabular model: additivity, global importance, waterfalls."""

from __future__ import annotations

import numpy as np
import pytest
import shap

from tests.models.entity_fixtures import FEATURES, make_entities, split3
from workbench.errors import InputError
from workbench.explain import entity_waterfall, explain_tabular, global_importance
from workbench.models.tabular import TabularClassifier


@pytest.fixture(scope="module")
def model_and_test():
    tr, va, te = split3(make_entities(1200, seed=4))
    model = TabularClassifier(seed=0, n_threads=1).fit(tr[FEATURES], tr["y"], va[FEATURES], va["y"])
    return model, te


def test_values_add_up_to_the_log_odds_exactly(model_and_test) -> None:
    model, te = model_and_test
    exp = explain_tabular(model, te, instance_names=te["ClientIP"])
    assert isinstance(exp, shap.Explanation)
    assert exp.values.shape == (len(te), len(FEATURES))
    assert list(exp.feature_names) == FEATURES
    total = exp.values.sum(axis=1) + exp.base_values
    np.testing.assert_allclose(total, model.decision_function(te), rtol=0, atol=1e-9)
    # missing values are explained too (single-request entities have no inter-arrival CV)
    assert np.isnan(exp.data[:, FEATURES.index("interarrival_cv")]).any()


def test_global_importance_ranks_the_informative_features(model_and_test) -> None:
    model, te = model_and_test
    imp = global_importance(explain_tabular(model, te))
    assert list(imp.columns) == ["feature", "mean_abs_shap", "share", "mean_shap"]
    assert imp["share"].sum() == pytest.approx(1.0)
    assert imp["mean_abs_shap"].is_monotonic_decreasing
    assert (
        imp["feature"].iloc[-1] == "noise" or imp.set_index("feature").loc["noise", "share"] < 0.1
    )
    assert imp["feature"].iloc[0] in {"asset_share", "burst_share"}


def test_entity_waterfall_by_position_or_name(model_and_test) -> None:
    model, te = model_and_test
    exp = explain_tabular(model, te, instance_names=te["ClientIP"])
    name = te["ClientIP"].iloc[7]
    one = entity_waterfall(exp, name)
    np.testing.assert_array_equal(one.values, entity_waterfall(exp, 7).values)
    assert one.values.shape == (len(FEATURES),) and np.ndim(one.base_values) == 0
    with pytest.raises(InputError, match="no explained entity"):
        entity_waterfall(exp, "192.0.2.1")
    with pytest.raises(InputError, match="outside"):
        entity_waterfall(exp, len(te))
    with pytest.raises(InputError, match="fitted"):
        explain_tabular(TabularClassifier(), te)
