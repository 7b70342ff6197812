"""HBOS, the Isolation Forest as arrays, the robust-z threshold and the 1–99 anomaly score."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.models.entity_fixtures import FEATURES, make_entities
from workbench.errors import InputError
from workbench.models.anomaly import (
    HBOS,
    P_AT_THRESHOLD,
    AnomalyDetector,
    IsolationForestDetector,
    average_path_length,
    robust_scale,
    z_to_probability,
    z_to_score,
)


def inliers_with_outliers(
    n: int = 600, n_out: int = 6, seed: int = 0
) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, 4)), columns=list("abcd"))
    out = np.zeros(n, dtype=bool)
    out[-n_out:] = True
    frame.loc[out, "a"] = rng.normal(12, 1, n_out)
    frame.loc[out, "c"] = -15.0
    return frame, out


# -- the robust threshold --------------------------------------------------------------------
def test_robust_scale_uses_mad_then_mean_deviation() -> None:
    s = np.array([1.0, 2.0, 3.0, 4.0, 100.0])
    center, scale = robust_scale(s)
    assert center == 3.0 and scale == pytest.approx(1.4826 * 1.0)
    flat = np.array([5.0] * 9 + [7.0])  # MAD is 0: mean absolute deviation takes over
    center, scale = robust_scale(flat)
    assert center == 5.0 and scale == pytest.approx(1.253314 * 0.2)
    with pytest.raises(InputError):
        robust_scale(np.array([np.nan]))


@settings(max_examples=200, deadline=None)
@given(z=st.floats(-50, 50, allow_nan=False), threshold=st.floats(0.5, 8.0))
def test_score_below_30_exactly_when_z_above_threshold(z: float, threshold: float) -> None:
    score = int(z_to_score(np.array([z]), threshold)[0])
    assert 1 <= score <= 99
    assert (score < 30) == (z > threshold)


def test_z_probability_is_monotone_and_anchored() -> None:
    z = np.linspace(-10, 20, 301)
    p = z_to_probability(z)
    assert np.all(np.diff(p) > 0) and p.min() > 0 and p.max() < 1
    assert z_to_probability(np.array([3.5]))[0] == pytest.approx(P_AT_THRESHOLD)
    assert z_to_score(np.array([3.5]))[0] == 30 and z_to_score(np.array([3.5001]))[0] == 29


# -- the detectors ---------------------------------------------------------------------------
def test_forest_arrays_score_exactly_like_scikit_learn() -> None:
    frame, _ = inliers_with_outliers()
    values = frame.to_numpy()
    forest = IsolationForestDetector(n_estimators=50, max_samples=128, seed=4).fit(values)
    ours = forest.score_samples(values, chunk_rows=100)  # several chunks
    theirs = -forest.sklearn_forest_.score_samples(values)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
    probe = np.random.default_rng(1).normal(0, 5, size=(200, 4))
    np.testing.assert_allclose(
        forest.score_samples(probe), -forest.sklearn_forest_.score_samples(probe), atol=1e-12
    )
    again = IsolationForestDetector.from_arrays(forest.arrays())
    np.testing.assert_array_equal(again.score_samples(probe), forest.score_samples(probe))


def test_average_path_length() -> None:
    np.testing.assert_allclose(average_path_length(np.array([0, 1, 2])), [0.0, 0.0, 1.0])
    n = 256.0
    expected = 2 * (np.log(n - 1) + 0.5772156649015329) - 2 * (n - 1) / n
    assert average_path_length(np.array([n]))[0] == pytest.approx(expected)


def test_forest_arrays_refuse_inconsistent_nodes() -> None:
    frame, _ = inliers_with_outliers(200)
    arrays = IsolationForestDetector(n_estimators=5, seed=0).fit(frame.to_numpy()).arrays()
    cyclic = dict(arrays)
    left = arrays["iforest.left"].copy()
    inner = np.flatnonzero(arrays["iforest.feature"] >= 0)
    left[inner[1]] = inner[0]  # a child pointing back up the tree
    cyclic["iforest.left"] = left
    with pytest.raises(InputError, match="cycle"):
        IsolationForestDetector.from_arrays(cyclic)
    short = {**arrays, "iforest.threshold": arrays["iforest.threshold"][:-1]}
    with pytest.raises(InputError, match="do not fit"):
        IsolationForestDetector.from_arrays(short)


def test_hbos_scores_rare_bins_and_missing_values() -> None:
    rng = np.random.default_rng(0)
    values = np.column_stack([rng.normal(size=500), rng.uniform(0, 1, 500)])
    values[:5, 1] = np.nan  # a rare missing value
    hbos = HBOS(n_bins=10).fit(values)
    assert hbos.heights_.shape == (2, 11) and np.allclose(hbos.heights_[:, :10].max(axis=1), 1)
    probe = np.array([[0.0, 0.5], [8.0, 0.5], [0.0, np.nan]])
    s = hbos.score_samples(probe)
    assert s[1] > s[0] and s[2] > s[0]
    # outside the training range counts as the floor height; feature 1 is the same in both
    central = hbos.heights_[0][hbos._bin(np.array([0.0]), 0, 10)[0]]
    assert s[1] - s[0] == pytest.approx(-np.log(1e-3) + np.log(central))
    again = HBOS.from_arrays(hbos.arrays(), 1e-3)
    np.testing.assert_array_equal(again.score_samples(probe), s)


@pytest.mark.parametrize("detector", ["iforest", "hbos"])
def test_detector_flags_planted_outliers_by_robust_z(detector: str) -> None:
    frame, out = inliers_with_outliers()
    model = AnomalyDetector(detector=detector, seed=0).fit(frame)
    flagged = model.is_anomaly(frame)
    assert flagged[out].all()
    assert flagged[~out].mean() < 0.02  # not a fixed contamination share
    assert model.train_anomaly_share_ == pytest.approx(flagged.mean())
    score = model.score_1_99(frame)
    np.testing.assert_array_equal(score < 30, flagged)
    assert model.calibrator_ is None
    np.testing.assert_array_equal(model.predict(frame), flagged.astype(np.int8))


def test_detector_calibrates_on_labelled_validation_entities() -> None:
    data = make_entities(900, seed=2)
    tr, va = data.iloc[:600], data.iloc[600:]
    plain = AnomalyDetector("iforest", seed=0).fit(tr[FEATURES], va[FEATURES], va["y"])
    assert plain.calibrator_ is None  # the default keeps the label-free map of z
    model = AnomalyDetector("iforest", calibration="isotonic", seed=0)
    model.fit(tr[FEATURES], va[FEATURES], va["y"])
    assert model.calibrator_ is not None and model.calibrator_.n_fit_ == len(va)
    np.testing.assert_array_equal(model.robust_z(va[FEATURES]), plain.robust_z(va[FEATURES]))
    p = model.predict_bad_proba(va[FEATURES])
    assert ((p >= 0) & (p <= 1)).all()
    with pytest.raises(InputError, match="both"):
        AnomalyDetector().fit(tr[FEATURES], va[FEATURES], None)


@pytest.mark.parametrize("detector", ["iforest", "hbos"])
def test_state_round_trip(detector: str) -> None:
    data = make_entities(500, seed=3)
    model = AnomalyDetector(detector, calibration="platt", seed=1)
    model.fit(data[FEATURES], data[FEATURES], data["y"])
    state = model.state()
    weights = {k: np.asarray(v) for k, v in state["weights"].items()}
    again = AnomalyDetector.from_state(weights, state["config"])
    np.testing.assert_array_equal(again.robust_z(data[FEATURES]), model.robust_z(data[FEATURES]))
    np.testing.assert_array_equal(
        again.score_1_99(data[FEATURES]), model.score_1_99(data[FEATURES])
    )
    broken = dict(weights)
    broken["medians"] = weights["medians"][:-1]
    with pytest.raises(InputError):
        AnomalyDetector.from_state(broken, state["config"])


def test_detector_errors() -> None:
    frame, _ = inliers_with_outliers(50)
    with pytest.raises(InputError, match="detector"):
        AnomalyDetector(detector="lof").fit(frame)
    with pytest.raises(InputError, match="calibration"):
        AnomalyDetector(calibration="beta").fit(frame)
    with pytest.raises(InputError, match="not fitted"):
        AnomalyDetector().robust_z(frame)
    with pytest.raises(InputError, match="NaN"):
        IsolationForestDetector().fit(np.array([[np.nan], [1.0]]))
