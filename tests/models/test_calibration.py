"""Calibration of the bad-class probability and the 1-99 score."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.errors import InputError
from workbench.models import ScoreCalibrator, expected_calibration_error, probability_to_score


def _overconfident(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """True probabilities q, labels drawn from q, and a model that reports q sharpened."""
    rng = np.random.default_rng(seed)
    q = rng.beta(0.7, 0.7, n)
    y = (rng.random(n) < q).astype(int)
    logit = np.log(q) - np.log1p(-q)
    p = 1 / (1 + np.exp(-3.0 * logit))  # overconfident model
    return p, y


def test_score_mapping_ends_and_threshold() -> None:
    assert probability_to_score([1.0, 0.0, 0.5]).tolist() == [1, 99, 50]
    assert probability_to_score([1.5, -2]).tolist() == [1, 99]  # clipped
    # score < 30 exactly when the calibrated bad probability is above ~0.71
    assert probability_to_score([0.72]).item() < 30 <= probability_to_score([0.70]).item()


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_calibration_lowers_ece_on_held_out_data(method: str) -> None:
    p_val, y_val = _overconfident(4000, seed=1)
    p_test, y_test = _overconfident(4000, seed=2)
    cal = ScoreCalibrator(method).fit(p_val, y_val)
    before = expected_calibration_error(y_test, p_test)
    after = expected_calibration_error(y_test, cal.predict_proba(p_test))
    assert after < before / 2, (before, after)


@pytest.mark.parametrize("method", ["isotonic", "platt"])
@settings(max_examples=30, deadline=None)
@given(p=st.lists(st.floats(0, 1), min_size=1, max_size=50))
def test_scores_are_monotone_and_in_range(method: str, p: list[float]) -> None:
    p_val, y_val = _overconfident(500, seed=3)
    cal = ScoreCalibrator(method).fit(p_val, y_val)
    p = np.sort(np.asarray(p))
    scores = cal.score(p)
    assert scores.dtype == np.int16
    assert scores.min() >= 1 and scores.max() <= 99
    assert (np.diff(scores.astype(int)) <= 0).all()  # more likely bad -> lower score
    assert (np.diff(cal.predict_proba(p)) >= -1e-12).all()


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_round_trip_through_json(method: str) -> None:
    p_val, y_val = _overconfident(800, seed=4)
    cal = ScoreCalibrator(method).fit(p_val, y_val)
    again = ScoreCalibrator.from_dict(json.loads(json.dumps(cal.to_dict())))
    grid = np.linspace(0, 1, 101)
    assert np.allclose(again.predict_proba(grid), cal.predict_proba(grid))
    assert again.n_fit_ == 800


def test_errors_are_clear() -> None:
    with pytest.raises(InputError, match="both kinds"):
        ScoreCalibrator().fit([0.1, 0.9], [0, 0])
    with pytest.raises(InputError, match="in \\[0, 1\\]"):
        ScoreCalibrator().fit([0.1, 1.2], [0, 1])
    with pytest.raises(InputError, match="has 2 values"):
        ScoreCalibrator().fit([0.1, 0.2], [0, 1, 1])
    with pytest.raises(InputError, match="0/1"):
        ScoreCalibrator().fit([0.1, 0.2], [0, 2])
    with pytest.raises(InputError, match="one of"):
        ScoreCalibrator("beta").fit([0.1, 0.2], [0, 1])
    with pytest.raises(InputError, match="not fitted"):
        ScoreCalibrator().score([0.5])
    with pytest.raises(InputError, match="malformed"):
        ScoreCalibrator.from_dict({"method": "platt"})
