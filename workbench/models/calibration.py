"""Calibrate a model's probability of the *bad* class and turn it into a 1–99 score.

Scores follow Cloudflare's conventions: bot score 1 = automated and 99 = human (below 30
likely automated); WAF attack score 1 = attack and 99 = clean. With ``p`` the calibrated
probability of the bad class (automated, attack)::

    score = 1 + round(98 * (1 - p))

The calibrator is fitted on validation data (never on the training data the model saw) by
isotonic regression or Platt scaling, and saves itself as plain JSON (no pickles).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from workbench.errors import InputError

#: Scores below this are "likely automated" / "likely attack".
BAD_SCORE_THRESHOLD = 30
METHODS = ("isotonic", "platt")
_EPS = 1e-6


def probability_to_score(p_bad: np.ndarray) -> np.ndarray:
    """Map a probability of the bad class to a score from 1 (bad) to 99 (good).

    Parameters
    ----------
    p_bad : array-like of float
        Probabilities in ``[0, 1]``.

    Returns
    -------
    numpy.ndarray
        ``int16`` scores ``1 + round(98 * (1 - p_bad))``.
    """
    p = np.clip(np.asarray(p_bad, dtype=np.float64), 0.0, 1.0)
    return (1 + np.rint(98.0 * (1.0 - p))).astype(np.int16)


def _check_pairs(p_bad: Any, y_bad: Any) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(p_bad, dtype=np.float64).ravel()
    y = np.asarray(y_bad).ravel()
    if len(p) != len(y):
        raise InputError(f"p_bad has {len(p)} values but y_bad has {len(y)}")
    if len(p) == 0:
        raise InputError("cannot calibrate on zero validation rows")
    if not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1:
        raise InputError("p_bad must hold probabilities in [0, 1]")
    if not np.isin(y, [0, 1, True, False]).all():
        raise InputError("y_bad must be 0/1 (1 = bad: attack or automated)")
    y = y.astype(np.float64)
    if y.min() == y.max():
        raise InputError(
            "calibration needs validation rows of both kinds (bad and good); "
            f"all {len(y)} are {'bad' if y[0] else 'good'}"
        )
    return p, y


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


class ScoreCalibrator:
    """Calibrate the bad-class probability on validation data; give 1–99 scores.

    Parameters
    ----------
    method : {"isotonic", "platt"}, default "isotonic"
        Isotonic regression (monotone, piecewise linear) or Platt scaling (a logistic
        curve on the logit of the probability).

    Attributes
    ----------
    x_thresholds_, y_thresholds_ : numpy.ndarray
        Isotonic: the fitted piecewise-linear map.
    a_, b_ : float
        Platt: ``p_cal = sigmoid(a_ * logit(p) + b_)``.
    n_fit_ : int
        Validation rows the calibrator was fitted on.
    """

    def __init__(self, method: str = "isotonic") -> None:
        self.method = method

    def fit(self, p_bad: Any, y_bad: Any) -> ScoreCalibrator:
        """Fit on validation probabilities and their true labels (1 = bad).

        Parameters
        ----------
        p_bad : array-like of float
            The model's probabilities of the bad class on validation rows.
        y_bad : array-like of {0, 1}
            1 where the row is bad (attack, automated), 0 where good.

        Returns
        -------
        ScoreCalibrator
            ``self``.

        Raises
        ------
        InputError
            On an unknown method, mismatched lengths, values outside ``[0, 1]`` or
            validation data holding only one kind of row.
        """
        if self.method not in METHODS:
            raise InputError(f"calibration method must be one of {METHODS}, not {self.method!r}")
        p, y = _check_pairs(p_bad, y_bad)
        if self.method == "isotonic":
            iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
            iso.fit(p, y)
            self.x_thresholds_ = np.asarray(iso.X_thresholds_, dtype=np.float64)
            self.y_thresholds_ = np.asarray(iso.y_thresholds_, dtype=np.float64)
        else:
            lr = LogisticRegression(C=1e4, max_iter=1000)
            lr.fit(_logit(p)[:, None], y)
            self.a_ = float(lr.coef_[0, 0])
            self.b_ = float(lr.intercept_[0])
        self.n_fit_ = len(p)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "n_fit_"):
            raise InputError("the calibrator is not fitted; call fit() on validation data first")

    def predict_proba(self, p_bad: Any) -> np.ndarray:
        """Return calibrated probabilities of the bad class.

        Parameters
        ----------
        p_bad : array-like of float
            Uncalibrated probabilities of the bad class.

        Returns
        -------
        numpy.ndarray
            Calibrated probabilities in ``[0, 1]``, a non-decreasing function of ``p_bad``.
        """
        self._check_fitted()
        p = np.clip(np.asarray(p_bad, dtype=np.float64), 0.0, 1.0)
        if self.method == "isotonic":
            if len(self.x_thresholds_) == 1:
                return np.full_like(p, self.y_thresholds_[0])
            return np.interp(p, self.x_thresholds_, self.y_thresholds_)
        return 1.0 / (1.0 + np.exp(-(self.a_ * _logit(p) + self.b_)))

    def score(self, p_bad: Any) -> np.ndarray:
        """Return 1–99 scores (1 = bad) for uncalibrated bad-class probabilities.

        Parameters
        ----------
        p_bad : array-like of float
            Uncalibrated probabilities of the bad class.

        Returns
        -------
        numpy.ndarray
            ``int16`` scores from 1 to 99.
        """
        return probability_to_score(self.predict_proba(p_bad))

    def to_dict(self) -> dict[str, Any]:
        """Return the fitted calibrator as JSON-ready values."""
        self._check_fitted()
        out: dict[str, Any] = {"method": self.method, "n_fit": self.n_fit_}
        if self.method == "isotonic":
            out["x_thresholds"] = self.x_thresholds_.tolist()
            out["y_thresholds"] = self.y_thresholds_.tolist()
        else:
            out.update(a=self.a_, b=self.b_)
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ScoreCalibrator:
        """Rebuild a calibrator written by :meth:`to_dict`.

        Raises
        ------
        InputError
            When a value is missing or malformed.
        """
        try:
            cal = cls(str(values["method"]))
            if cal.method == "isotonic":
                cal.x_thresholds_ = np.asarray(values["x_thresholds"], dtype=np.float64)
                cal.y_thresholds_ = np.asarray(values["y_thresholds"], dtype=np.float64)
                if cal.x_thresholds_.shape != cal.y_thresholds_.shape or not len(cal.x_thresholds_):
                    raise InputError("isotonic calibration thresholds are malformed")
            elif cal.method == "platt":
                cal.a_, cal.b_ = float(values["a"]), float(values["b"])
            else:
                raise InputError(f"unknown calibration method {cal.method!r}")
            cal.n_fit_ = int(values["n_fit"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"calibration settings are malformed: {exc!r}") from None
        return cal

    def __repr__(self) -> str:
        fitted = f", n_fit={self.n_fit_}" if hasattr(self, "n_fit_") else ""
        return f"ScoreCalibrator(method={self.method!r}{fitted})"
