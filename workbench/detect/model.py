"""Unsupervised and semi-supervised anomaly models on per-user-day features.

:class:`UserDayAnomalyModel` is unsupervised: an isolation forest and HBOS (histogram-based
outlier score: per-feature log densities, summed) on ``log1p`` of the user-day features
(:data:`~workbench.detect.userdays.FEATURES`). Each detector's raw score is standardised by
the median and MAD seen in training and the two are averaged; a day is anomalous when the
robust z-score of that average exceeds ``threshold`` (3.5).

:class:`SemiSupervisedUserDayModel` adds whatever labels exist: a logistic regression trained
on the labelled anomalies against labelled normal days and *pseudo-negatives* (unlabelled days
the unsupervised model finds least anomalous), combined with the unsupervised score by taking
the larger of the two (the unsupervised score mapped to [0, 1] by its training distribution).
Taking the maximum lets a handful of labels pull up days that look like them without pushing
down the different anomalies the unsupervised model finds; measured on synthetic data with 1 %
of anomalies labelled it never did worse than the unsupervised model and often much better
(:func:`workbench.detect.evaluate.compare_models`).

Both follow scikit-learn conventions: settings in ``__init__``, ``fit`` returns ``self``,
learned state ends in ``_``, ``seed`` controls all randomness.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from workbench.detect.userdays import FEATURES
from workbench.errors import InputError

#: Consistency constant of the median absolute deviation for normal data.
MAD_SCALE = 1.4826
#: The same for the mean absolute deviation (used when the MAD is 0).
MEAN_AD_SCALE = 1.2533


def _matrix(X: Any) -> np.ndarray:
    """Return ``log1p`` of the features as a float matrix (a frame must have FEATURES)."""
    if isinstance(X, pd.DataFrame):
        missing = [f for f in FEATURES if f not in X.columns]
        if missing:
            raise InputError(f"user-day features lack column(s) {missing}")
        X = X[list(FEATURES)].to_numpy(dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != len(FEATURES):
        raise InputError(f"expected a matrix with {len(FEATURES)} feature columns, got {X.shape}")
    if not np.isfinite(X).all():
        raise InputError("user-day features contain NaN or infinite values")
    return np.log1p(np.maximum(X, 0.0))


def _center_scale(values: np.ndarray) -> tuple[float, float]:
    """Return the median and a robust scale of ``values``.

    The scale is 1.4826 MAD; when most values are equal (MAD 0) it is 1.2533 times the mean
    absolute deviation (Iglewicz and Hoaglin's modified z-score), and 1 when all are equal.
    """
    median = float(np.median(values))
    deviation = np.abs(values - median)
    scale = MAD_SCALE * float(np.median(deviation))
    if scale <= 1e-12:
        scale = MEAN_AD_SCALE * float(np.mean(deviation))
    return median, scale if scale > 1e-12 else 1.0


class UserDayAnomalyModel:
    """Unsupervised anomaly model for user-days: isolation forest + HBOS, robust-z threshold.

    Parameters
    ----------
    n_estimators : int, default 200
        Trees in the isolation forest.
    bins : int, default 10
        Histogram bins per feature for HBOS.
    threshold : float, default 3.5
        Robust z-score of the anomaly score above which a day is anomalous.
    seed : int, default 0
        Seed of the isolation forest.
    """

    def __init__(
        self, n_estimators: int = 200, bins: int = 10, threshold: float = 3.5, seed: int = 0
    ) -> None:
        self.n_estimators = n_estimators
        self.bins = bins
        self.threshold = threshold
        self.seed = seed

    def fit(self, X: Any, y: Any = None) -> UserDayAnomalyModel:
        """Learn what ordinary user-days look like.

        Parameters
        ----------
        X : pandas.DataFrame or array-like
            User-day features (:data:`FEATURES` columns).
        y : ignored
            Present for scikit-learn compatibility.

        Returns
        -------
        UserDayAnomalyModel
            ``self``.

        Raises
        ------
        InputError
            With fewer than 10 rows or malformed features.
        """
        Z = _matrix(X)
        if len(Z) < 10:
            raise InputError(f"need at least 10 user-days to fit, got {len(Z)}")
        self.forest_ = IsolationForest(n_estimators=self.n_estimators, random_state=self.seed).fit(
            Z
        )
        self.edges_ = []
        self.log_density_ = []
        for j in range(Z.shape[1]):
            lo, hi = float(Z[:, j].min()), float(Z[:, j].max())
            edges = np.linspace(lo, hi if hi > lo else lo + 1.0, self.bins + 1)
            counts, _ = np.histogram(Z[:, j], bins=edges)
            self.edges_.append(edges)
            self.log_density_.append(np.log((counts + 1.0) / (counts.sum() + self.bins)))
        forest, hbos = self._raw(Z)
        self.forest_center_ = _center_scale(forest)
        self.hbos_center_ = _center_scale(hbos)
        combined = self._combined(forest, hbos)
        self.center_ = _center_scale(combined)
        self.train_scores_ = np.sort(self._z(combined))
        self.feature_median_ = np.median(Z, axis=0)
        mad = MAD_SCALE * np.median(np.abs(Z - self.feature_median_), axis=0)
        self.feature_scale_ = np.maximum(mad, np.log1p(1.0) / 2)  # at least half of "one more"
        return self

    def _raw(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        forest = -self.forest_.score_samples(Z)
        hbos = np.zeros(len(Z))
        for j, (edges, logd) in enumerate(zip(self.edges_, self.log_density_, strict=True)):
            idx = np.clip(np.searchsorted(edges, Z[:, j], side="right") - 1, 0, self.bins - 1)
            hbos -= logd[idx]
        return forest, hbos

    def _combined(self, forest: np.ndarray, hbos: np.ndarray) -> np.ndarray:
        (fm, fs), (hm, hs) = self.forest_center_, self.hbos_center_
        return ((forest - fm) / fs + (hbos - hm) / hs) / 2

    def _z(self, combined: np.ndarray) -> np.ndarray:
        median, scale = self.center_
        return (combined - median) / scale

    def _check(self) -> None:
        if not hasattr(self, "forest_"):
            raise InputError("the model is not fitted yet: call fit first")

    def decision_function(self, X: Any) -> np.ndarray:
        """Return the robust z-score of each user-day's anomaly score (higher: more anomalous).

        Parameters
        ----------
        X : pandas.DataFrame or array-like
            User-day features.

        Returns
        -------
        numpy.ndarray
            One score per row.
        """
        self._check()
        return self._z(self._combined(*self._raw(_matrix(X))))

    def predict(self, X: Any) -> np.ndarray:
        """Return 1 for anomalous user-days (score above ``threshold``), else 0."""
        return (self.decision_function(X) > self.threshold).astype(np.int64)

    def quantile(self, scores: np.ndarray) -> np.ndarray:
        """Map scores to [0, 1] by the training scores' distribution (share at or below)."""
        self._check()
        return np.searchsorted(self.train_scores_, scores, side="right") / len(self.train_scores_)

    def drivers(self, X: Any, top: int = 3) -> list[list[tuple[str, float]]]:
        """Return, per row, the features furthest above their training median.

        Parameters
        ----------
        X : pandas.DataFrame or array-like
            User-day features.
        top : int, default 3
            How many features per row.

        Returns
        -------
        list of list of (str, float)
            Feature name and robust z-score (in ``log1p`` space), largest first; only
            features above their median.
        """
        self._check()
        z = (_matrix(X) - self.feature_median_) / self.feature_scale_
        out = []
        for row in z:
            order = np.argsort(-row)[:top]
            out.append([(FEATURES[j], float(row[j])) for j in order if row[j] > 0])
        return out


class SemiSupervisedUserDayModel:
    """User-day anomaly model that also learns from labelled days.

    Parameters
    ----------
    C : float, default 0.1
        Inverse regularisation of the logistic regression (few labels: keep it strong).
    pseudo_negative_quantile : float, default 0.5
        Unlabelled days at or below this quantile of the unsupervised score are taken as
        normal for training the classifier.
    probability_threshold : float, default 0.9
        Classifier probability above which a day is anomalous whatever the unsupervised
        score says.
    threshold : float, default 3.5
        Robust z-score threshold of the unsupervised part.
    n_estimators, bins, seed
        As for :class:`UserDayAnomalyModel`.
    """

    def __init__(
        self,
        C: float = 0.1,
        pseudo_negative_quantile: float = 0.5,
        probability_threshold: float = 0.9,
        threshold: float = 3.5,
        n_estimators: int = 200,
        bins: int = 10,
        seed: int = 0,
    ) -> None:
        self.C = C
        self.pseudo_negative_quantile = pseudo_negative_quantile
        self.probability_threshold = probability_threshold
        self.threshold = threshold
        self.n_estimators = n_estimators
        self.bins = bins
        self.seed = seed

    def fit(self, X: Any, y: Any) -> SemiSupervisedUserDayModel:
        """Fit the unsupervised model on all days and the classifier on the labelled ones.

        Parameters
        ----------
        X : pandas.DataFrame or array-like
            User-day features.
        y : array-like of int
            1 = labelled anomalous, 0 = labelled normal, -1 = unlabelled.

        Returns
        -------
        SemiSupervisedUserDayModel
            ``self``.

        Raises
        ------
        InputError
            When ``y`` does not match ``X``, holds other values, or has no labelled anomaly.
        """
        Z = _matrix(X)
        y = np.asarray(y).ravel()
        if len(y) != len(Z):
            raise InputError(f"y has {len(y)} labels for {len(Z)} user-days")
        if not np.isin(y, [-1, 0, 1]).all():
            raise InputError("y must hold 1 (anomalous), 0 (normal) or -1 (unlabelled)")
        if not (y == 1).any():
            raise InputError("the semi-supervised model needs at least one labelled anomaly")
        self.base_ = UserDayAnomalyModel(self.n_estimators, self.bins, self.threshold, self.seed)
        self.base_.fit(X)
        share = self.base_.quantile(self.base_.decision_function(X))
        unlabelled = y == -1
        pseudo = unlabelled & (share <= self.pseudo_negative_quantile)
        train = (y == 1) | (y == 0) | pseudo
        target = (y[train] == 1).astype(np.int64)
        if target.all():
            raise InputError("no normal or pseudo-normal user-days to train the classifier on")
        self.scaler_ = StandardScaler().fit(Z)
        self.classifier_ = LogisticRegression(
            C=self.C, class_weight="balanced", max_iter=2000, random_state=self.seed
        ).fit(self.scaler_.transform(Z[train]), target)
        self.n_labelled_ = int((y == 1).sum())
        return self

    def _check(self) -> None:
        if not hasattr(self, "classifier_"):
            raise InputError("the model is not fitted yet: call fit first")

    def probability(self, X: Any) -> np.ndarray:
        """Return the classifier's probability that each day is like the labelled anomalies."""
        self._check()
        return self.classifier_.predict_proba(self.scaler_.transform(_matrix(X)))[:, 1]

    def decision_function(self, X: Any) -> np.ndarray:
        """Return ``max(quantile of the unsupervised score, classifier probability)``, in [0, 1]."""
        self._check()
        share = self.base_.quantile(self.base_.decision_function(X))
        return np.maximum(share, self.probability(X))

    def predict(self, X: Any) -> np.ndarray:
        """Return 1 where the unsupervised model or the confident classifier flags a day."""
        self._check()
        flagged = self.base_.decision_function(X) > self.threshold
        flagged |= self.probability(X) >= self.probability_threshold
        return flagged.astype(np.int64)
