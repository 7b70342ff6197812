"""Unsupervised detectors on entity features: HBOS and Isolation Forest, robust-z thresholded.

Both detectors give an *anomaly score* (higher = stranger). The decision is not a fixed
contamination share but the robust z-score of that score against the training entities::

    z = (s - median(s_train)) / (1.4826 * MAD(s_train))      anomalous when z > 3.5

(Iglewicz and Hoaglin's modified z-score; when more than half of the training scores are
equal the MAD is 0 and ``1.2533 * mean absolute deviation`` takes its place.)

The 1–99 score (1 = anomalous, like the bot score's 1 = automated):

* by default (``calibration="z"``) a fixed monotone map of z:
  ``p = sigmoid(z - 3.5 + logit(p0))`` with ``p0 = 1 - 28.5 / 98``, so the score
  ``1 + round(98 (1 - p))`` is below 30 exactly when ``z > 3.5`` (the boundary is
  enforced, not left to rounding): the score means the same with or without labels;
* with ``calibration="isotonic"`` or ``"platt"`` and labelled validation entities, that
  ``p`` is calibrated against the labels
  (:class:`~workbench.models.calibration.ScoreCalibrator`), so the score reads as a
  probability of automated. Beware: where most entities are bots (68 % of the sample
  traffic's IPs), ordinary entities then get the base rate and many humans fall below 30.
  ``is_anomaly`` keeps the robust-z rule either way.

Nothing is pickled. HBOS is a table of histogram heights. The Isolation Forest is fitted by
scikit-learn and exported to flat node arrays (feature, threshold, children, the path length
credited at each leaf) that are evaluated here with numpy, exactly as scikit-learn scores
(the test checks parity); the arrays go into ``model.safetensors``.

Features go through ``sign(x) log1p(|x|)`` first (counts and byte sizes are heavy-tailed;
shares barely change); the forest imputes missing values with the training median, HBOS
gives them a bin of their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from workbench.errors import InputError
from workbench.models.calibration import BAD_SCORE_THRESHOLD, ScoreCalibrator, probability_to_score
from workbench.models.tabular import feature_matrix

KIND = "anomaly"
DETECTORS = ("iforest", "hbos")
#: Robust z above which an entity is anomalous.
Z_THRESHOLD = 3.5
#: Consistency constant of the MAD for normal data, and of the mean absolute deviation.
MAD_SCALE = 1.4826
MEAN_AD_SCALE = 1.253314
#: Probability at the threshold: 98 * (1 - P_AT_THRESHOLD) = 28.5, the edge of score 30.
P_AT_THRESHOLD = 1.0 - 28.5 / 98.0
_EULER_GAMMA = 0.5772156649015329


def signed_log1p(values: np.ndarray) -> np.ndarray:
    """Return ``sign(x) * log1p(|x|)`` (NaN stays NaN)."""
    return np.sign(values) * np.log1p(np.abs(values))


# -- the robust threshold ------------------------------------------------------------------
def robust_scale(scores: np.ndarray) -> tuple[float, float]:
    """Return ``(median, scale)`` of scores: ``1.4826 * MAD``, else ``1.2533 * mean AD``.

    Parameters
    ----------
    scores : numpy.ndarray
        Finite anomaly scores.

    Returns
    -------
    tuple of float
        The centre and the robust standard deviation (at least 1e-12).
    """
    s = np.asarray(scores, dtype=np.float64)
    if not len(s) or not np.all(np.isfinite(s)):
        raise InputError("robust scaling needs at least one finite score")
    median = float(np.median(s))
    deviation = np.abs(s - median)
    scale = MAD_SCALE * float(np.median(deviation))
    if scale <= 0:
        scale = MEAN_AD_SCALE * float(np.mean(deviation))
    return median, max(scale, 1e-12)


def z_to_probability(z: np.ndarray, threshold: float = Z_THRESHOLD) -> np.ndarray:
    """Map robust z to ``(0, 1)``: ``sigmoid(z - threshold + logit(P_AT_THRESHOLD))``."""
    shift = np.log(P_AT_THRESHOLD) - np.log1p(-P_AT_THRESHOLD)
    x = np.clip(np.asarray(z, dtype=np.float64) - threshold + shift, -700, 700)
    return 1.0 / (1.0 + np.exp(-x))


def z_to_score(z: np.ndarray, threshold: float = Z_THRESHOLD) -> np.ndarray:
    """Return 1–99 scores from robust z: below 30 exactly when ``z > threshold``."""
    z = np.asarray(z, dtype=np.float64)
    score = probability_to_score(z_to_probability(z, threshold))
    over = z > threshold
    return np.where(
        over,
        np.minimum(score, BAD_SCORE_THRESHOLD - 1),
        np.maximum(score, BAD_SCORE_THRESHOLD),
    ).astype(np.int16)


# -- HBOS ----------------------------------------------------------------------------------
class HBOS:
    """Histogram-based outlier score: sum over features of ``-log`` of the bin height.

    Each feature gets ``n_bins`` equal-width bins over its training range; a bin's height is
    its share of training rows divided by the largest bin's share (so the commonest bin
    scores 0). Missing values form one more bin. Values outside the training range, and
    bins with a height below ``min_height``, count as ``min_height``.

    Parameters
    ----------
    n_bins : int or "auto", default "auto"
        ``auto``: ``sqrt(n_rows)`` clipped to 5..50.
    min_height : float, default 1e-3
        Floor of a bin's height (the most any one feature adds is ``-log(min_height)``).

    Attributes
    ----------
    lows_, highs_ : numpy.ndarray
        ``(F,)`` training range per feature.
    heights_ : numpy.ndarray
        ``(F, n_bins + 1)`` bin heights; the last column is the missing-value bin.
    """

    def __init__(self, n_bins: int | str = "auto", min_height: float = 1e-3) -> None:
        self.n_bins = n_bins
        self.min_height = min_height

    def fit(self, values: np.ndarray) -> HBOS:
        """Fit the histograms on ``(N, F)`` values (NaN allowed)."""
        values = np.asarray(values, dtype=np.float64)
        n, n_features = values.shape
        if n < 2:
            raise InputError("HBOS needs at least 2 training rows")
        bins = int(np.clip(np.sqrt(n), 5, 50)) if self.n_bins == "auto" else int(self.n_bins)
        if bins < 1 or not 0 < float(self.min_height) < 1:
            raise InputError("HBOS needs n_bins >= 1 and min_height in (0, 1)")
        self.lows_ = np.zeros(n_features)
        self.highs_ = np.zeros(n_features)
        heights = np.zeros((n_features, bins + 1))
        for j in range(n_features):
            col = values[:, j]
            present = ~np.isnan(col)
            if present.any():
                self.lows_[j], self.highs_[j] = col[present].min(), col[present].max()
            counts = np.bincount(self._bin(col, j, bins), minlength=bins + 2)[: bins + 1]
            heights[j] = counts / n
        self.heights_ = heights / heights.max(axis=1, keepdims=True)
        self.n_bins_ = bins
        return self

    def _bin(self, col: np.ndarray, j: int, bins: int) -> np.ndarray:
        """Bin index per value: 0..bins-1, ``bins`` for missing, ``bins + 1`` outside."""
        lo, hi = self.lows_[j], self.highs_[j]
        width = (hi - lo) / bins
        with np.errstate(invalid="ignore", divide="ignore"):
            idx = np.floor((col - lo) / width) if width > 0 else np.zeros_like(col)
        idx = np.where(col == hi, bins - 1, idx)
        outside = (col < lo) | (col > hi)
        idx = np.where(outside, bins + 1, idx)
        idx = np.where(np.isnan(col), bins, idx)
        return np.clip(np.nan_to_num(idx, nan=bins + 1), 0, bins + 1).astype(np.int64)

    def score_samples(self, values: np.ndarray) -> np.ndarray:
        """Return the HBOS score per row (higher = more anomalous)."""
        values = np.asarray(values, dtype=np.float64)
        bins = self.n_bins_
        floor = float(self.min_height)
        total = np.zeros(len(values))
        for j in range(values.shape[1]):
            idx = self._bin(values[:, j], j, bins)
            table = np.r_[self.heights_[j], 0.0]  # index bins + 1: outside the range
            total += -np.log(np.maximum(table[idx], floor))
        return total

    def arrays(self) -> dict[str, np.ndarray]:
        """Return the fitted state as arrays (for ``model.safetensors``)."""
        return {"hbos.lows": self.lows_, "hbos.highs": self.highs_, "hbos.heights": self.heights_}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], min_height: float) -> HBOS:
        """Rebuild from :meth:`arrays`."""
        est = cls(min_height=min_height)
        est.lows_ = np.asarray(arrays["hbos.lows"], dtype=np.float64)
        est.highs_ = np.asarray(arrays["hbos.highs"], dtype=np.float64)
        est.heights_ = np.asarray(arrays["hbos.heights"], dtype=np.float64)
        est.n_bins_ = est.heights_.shape[1] - 1
        if not (len(est.lows_) == len(est.highs_) == len(est.heights_)):
            raise InputError("HBOS arrays do not fit together")
        return est


# -- Isolation Forest as arrays -------------------------------------------------------------
def average_path_length(n: np.ndarray) -> np.ndarray:
    """Return ``c(n)``, the mean path length of an unsuccessful BST search among n points."""
    n = np.asarray(n, dtype=np.float64)
    out = np.zeros_like(n)
    two = n == 2
    big = n > 2
    out[two] = 1.0
    out[big] = 2.0 * (np.log(n[big] - 1.0) + _EULER_GAMMA) - 2.0 * (n[big] - 1.0) / n[big]
    return out


class IsolationForestDetector:
    """Isolation Forest fitted by scikit-learn, kept and evaluated as flat numpy node arrays.

    Parameters
    ----------
    n_estimators : int, default 200
    max_samples : int, default 256
        Entities per tree (fewer when there are fewer).
    seed : int, default 0

    Attributes
    ----------
    feature_, threshold_, left_, right_ : numpy.ndarray
        One entry per node of all trees (``feature_ = -1`` on leaves; children are global
        node indices).
    leaf_length_ : numpy.ndarray
        Path length credited at a leaf: its depth plus ``c(n_node_samples)``.
    roots_ : numpy.ndarray
        Index of each tree's root.
    normaliser_ : float
        ``c(max_samples)``.
    """

    def __init__(self, n_estimators: int = 200, max_samples: int = 256, seed: int = 0) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.seed = seed

    def fit(self, values: np.ndarray) -> IsolationForestDetector:
        """Fit on ``(N, F)`` values without missing ones, then export the trees."""
        from sklearn.ensemble import IsolationForest

        values = np.asarray(values, dtype=np.float64)
        if np.isnan(values).any():
            raise InputError("the forest needs values without NaN (impute first)")
        forest = IsolationForest(
            n_estimators=int(self.n_estimators),
            max_samples=min(int(self.max_samples), len(values)),
            random_state=int(self.seed),
            n_jobs=1,
        ).fit(values)
        self.sklearn_forest_ = forest  # kept in memory for parity checks; never saved
        features, thresholds, lefts, rights, lengths, roots = [], [], [], [], [], []
        offset = 0
        n_features = values.shape[1]
        for tree, subset in zip(forest.estimators_, forest.estimators_features_, strict=True):
            t = tree.tree_
            subset = np.asarray(subset)
            leaf = t.children_left < 0
            mapped = np.where(leaf, -1, subset[np.maximum(t.feature, 0)])
            if len(subset) != n_features:
                raise InputError("the forest must use every feature (max_features=1.0)")
            depth = t.compute_node_depths().astype(np.float64)  # root = 1
            features.append(mapped.astype(np.int32))
            thresholds.append(t.threshold.astype(np.float64))
            lefts.append(np.where(leaf, -1, t.children_left + offset).astype(np.int32))
            rights.append(np.where(leaf, -1, t.children_right + offset).astype(np.int32))
            lengths.append(np.where(leaf, depth - 1.0 + average_path_length(t.n_node_samples), 0.0))
            roots.append(offset)
            offset += t.node_count
        self.feature_ = np.concatenate(features)
        self.threshold_ = np.concatenate(thresholds)
        self.left_ = np.concatenate(lefts)
        self.right_ = np.concatenate(rights)
        self.leaf_length_ = np.concatenate(lengths)
        self.roots_ = np.asarray(roots, dtype=np.int64)
        self.normaliser_ = float(average_path_length(np.array([forest.max_samples_]))[0])
        return self

    def score_samples(self, values: np.ndarray, chunk_rows: int = 4096) -> np.ndarray:
        """Return ``2 ** (-mean path length / c(max_samples))`` (higher = more anomalous).

        Values are rounded to float32 first, as scikit-learn's trees compare them.
        """
        x = np.asarray(values, dtype=np.float32).astype(np.float64)
        out = np.empty(len(x))
        for start in range(0, len(x), chunk_rows):
            block = x[start : start + chunk_rows]
            node = np.broadcast_to(self.roots_, (len(block), len(self.roots_))).copy()
            rows = np.arange(len(block))[:, None]
            while True:
                feat = self.feature_[node]
                inner = feat >= 0
                if not inner.any():
                    break
                go_left = block[rows, np.maximum(feat, 0)] <= self.threshold_[node]
                node = np.where(inner, np.where(go_left, self.left_[node], self.right_[node]), node)
            depth = self.leaf_length_[node].mean(axis=1)
            out[start : start + len(block)] = 2.0 ** (-depth / self.normaliser_)
        return out

    def arrays(self) -> dict[str, np.ndarray]:
        """Return the exported trees as arrays (for ``model.safetensors``)."""
        return {
            "iforest.feature": self.feature_,
            "iforest.threshold": self.threshold_,
            "iforest.left": self.left_,
            "iforest.right": self.right_,
            "iforest.leaf_length": self.leaf_length_,
            "iforest.roots": self.roots_,
            "iforest.normaliser": np.array([self.normaliser_]),
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> IsolationForestDetector:
        """Rebuild from :meth:`arrays`, checking that the node arrays fit together."""
        est = cls()
        est.feature_ = np.asarray(arrays["iforest.feature"], dtype=np.int32)
        est.threshold_ = np.asarray(arrays["iforest.threshold"], dtype=np.float64)
        est.left_ = np.asarray(arrays["iforest.left"], dtype=np.int32)
        est.right_ = np.asarray(arrays["iforest.right"], dtype=np.int32)
        est.leaf_length_ = np.asarray(arrays["iforest.leaf_length"], dtype=np.float64)
        est.roots_ = np.asarray(arrays["iforest.roots"], dtype=np.int64)
        est.normaliser_ = float(np.asarray(arrays["iforest.normaliser"]).ravel()[0])
        n = len(est.feature_)
        sizes = {len(est.threshold_), len(est.left_), len(est.right_), len(est.leaf_length_)}
        inner = est.feature_ >= 0
        children = np.r_[est.left_[inner], est.right_[inner]]
        if (
            sizes != {n}
            or not len(est.roots_)
            or est.roots_.min() < 0
            or est.roots_.max() >= n
            or (len(children) and (children.min() < 0 or children.max() >= n))
            or not est.normaliser_ > 0
        ):
            raise InputError("Isolation Forest arrays do not fit together")
        # children always come after their parent, so every walk ends at a leaf
        parents = np.flatnonzero(inner)
        if (est.left_[inner] <= parents).any() or (est.right_[inner] <= parents).any():
            raise InputError("Isolation Forest arrays hold a cycle")
        return est


# -- the model ---------------------------------------------------------------------------
class AnomalyDetector:
    """An unsupervised detector with a robust-z decision and a 1–99 score.

    Parameters
    ----------
    detector : {"iforest", "hbos"}, default "iforest"
    z_threshold : float, default 3.5
        Anomalous when the robust z of the anomaly score is above this.
    calibration : {"z", "isotonic", "platt"}, default "z"
        ``z``: the label-free map of z (score below 30 exactly when anomalous); the others
        calibrate on labelled validation data when ``fit`` gets some.
    n_estimators, max_samples : int
        Isolation Forest settings.
    n_bins : int or "auto", min_height : float
        HBOS settings.
    seed : int, default 0

    Attributes
    ----------
    feature_names_ : list of str
    medians_ : numpy.ndarray
        Training medians of the transformed features (imputation for the forest).
    detector_ : HBOS or IsolationForestDetector
    center_, scale_ : float
        Robust centre and scale of the training anomaly scores.
    calibrator_ : ScoreCalibrator or None
        Fitted on labelled validation data.
    train_anomaly_share_ : float
        Share of training entities above the threshold.
    """

    def __init__(
        self,
        detector: str = "iforest",
        z_threshold: float = Z_THRESHOLD,
        calibration: str = "z",
        n_estimators: int = 200,
        max_samples: int = 256,
        n_bins: int | str = "auto",
        min_height: float = 1e-3,
        seed: int = 0,
    ) -> None:
        self.detector = detector
        self.z_threshold = z_threshold
        self.calibration = calibration
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.n_bins = n_bins
        self.min_height = min_height
        self.seed = seed

    def _prepare(self, X: Any, names: Sequence[str] | None = None) -> np.ndarray:
        values, names = feature_matrix(X, names)
        values = signed_log1p(values)
        values[np.isinf(values)] = np.nan
        return values

    def _impute(self, values: np.ndarray) -> np.ndarray:
        if self.detector == "hbos":
            return values
        return np.where(np.isnan(values), self.medians_[None, :], values)

    def fit(self, X: Any, X_val: Any = None, y_val: Any = None) -> AnomalyDetector:
        """Fit on unlabelled entities; calibrate on labelled validation data when given.

        Parameters
        ----------
        X : pandas.DataFrame or 2-D array
            Training entities' features (labels, if any, are not used).
        X_val, y_val : optional
            Validation features and 0/1 labels (1 = automated) for calibration.

        Returns
        -------
        AnomalyDetector
            ``self``.

        Raises
        ------
        InputError
            On an unknown detector or calibration, or malformed data.
        """
        if self.detector not in DETECTORS:
            raise InputError(f"detector must be one of {DETECTORS}, not {self.detector!r}")
        if self.calibration not in ("isotonic", "platt", "z"):
            raise InputError(f"calibration must be isotonic, platt or z, not {self.calibration!r}")
        _, names = feature_matrix(X)
        values = self._prepare(X, names)
        if len(values) < 2:
            raise InputError("an anomaly detector needs at least 2 training entities")
        self.feature_names_ = names
        with np.errstate(all="ignore"):
            medians = np.nanmedian(np.where(np.isnan(values), np.nan, values), axis=0)
        self.medians_ = np.nan_to_num(medians, nan=0.0)
        if self.detector == "hbos":
            self.detector_ = HBOS(self.n_bins, self.min_height).fit(values)
        else:
            self.detector_ = IsolationForestDetector(
                self.n_estimators, self.max_samples, self.seed
            ).fit(self._impute(values))
        raw = self.detector_.score_samples(self._impute(values))
        self.center_, self.scale_ = robust_scale(raw)
        self.train_anomaly_share_ = float((self._z(raw) > self.z_threshold).mean())
        self.calibrator_ = None
        if (X_val is None) != (y_val is None):
            raise InputError("pass both X_val and y_val, or neither")
        if X_val is not None and self.calibration != "z":
            p = self.predict_bad_proba(X_val, calibrated=False)
            self.calibrator_ = ScoreCalibrator(self.calibration).fit(p, np.asarray(y_val))
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "detector_"):
            raise InputError("the AnomalyDetector is not fitted; call fit() first")

    def _z(self, raw: np.ndarray) -> np.ndarray:
        return (raw - self.center_) / self.scale_

    def anomaly_score(self, X: Any) -> np.ndarray:
        """Return the detector's raw anomaly score (higher = more anomalous)."""
        self._check_fitted()
        return self.detector_.score_samples(self._impute(self._prepare(X, self.feature_names_)))

    def robust_z(self, X: Any) -> np.ndarray:
        """Return the robust z of the anomaly score against the training entities."""
        return self._z(self.anomaly_score(X))

    def is_anomaly(self, X: Any) -> np.ndarray:
        """Return True where the robust z is above ``z_threshold``."""
        return self.robust_z(X) > self.z_threshold

    def predict_bad_proba(self, X: Any, calibrated: bool = True) -> np.ndarray:
        """Return the probability of anomalous (calibrated on labels when there were some)."""
        p = z_to_probability(self.robust_z(X), self.z_threshold)
        if calibrated and self.calibrator_ is not None:
            return self.calibrator_.predict_proba(p)
        return p

    def score_1_99(self, X: Any) -> np.ndarray:
        """Return 1–99 scores, 1 = anomalous (see the module notes)."""
        z = self.robust_z(X)
        if self.calibrator_ is None:
            return z_to_score(z, self.z_threshold)
        return self.calibrator_.score(z_to_probability(z, self.z_threshold))

    def predict(self, X: Any) -> np.ndarray:
        """Return 1 for anomalous entities (robust z above the threshold)."""
        return self.is_anomaly(X).astype(np.int8)

    # -- saving ----------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Return ``weights`` (arrays) and ``config`` (JSON) of the fitted detector."""
        self._check_fitted()
        weights = {"medians": self.medians_, **self.detector_.arrays()}
        return {
            "weights": weights,
            "config": {
                "kind": KIND,
                "detector": self.detector,
                "params": {
                    "detector": self.detector,
                    "z_threshold": self.z_threshold,
                    "calibration": self.calibration,
                    "n_estimators": self.n_estimators,
                    "max_samples": self.max_samples,
                    "n_bins": self.n_bins,
                    "min_height": self.min_height,
                    "seed": self.seed,
                },
                "feature_names": list(self.feature_names_),
                "transform": "sign(x) * log1p(|x|)",
                "robust": {"center": self.center_, "scale": self.scale_},
                "train_anomaly_share": self.train_anomaly_share_,
                "calibration": None if self.calibrator_ is None else self.calibrator_.to_dict(),
            },
        }

    @classmethod
    def from_state(cls, weights: Mapping[str, Any], config: Mapping[str, Any]) -> AnomalyDetector:
        """Rebuild from :meth:`state` as loaded from a verified model folder.

        Raises
        ------
        InputError
            When the config describes another model or the arrays do not fit.
        """
        if config.get("kind") != KIND:
            raise InputError(f"config describes a {config.get('kind')!r} model, not {KIND!r}")
        arrays = {k: np.asarray(v) for k, v in weights.items()}
        try:
            est = cls(**dict(config["params"]))
            est.feature_names_ = [str(n) for n in config["feature_names"]]
            est.medians_ = arrays["medians"].astype(np.float64)
            if est.detector == "hbos":
                est.detector_ = HBOS.from_arrays(arrays, float(est.min_height))
                n_features = len(est.detector_.lows_)
            elif est.detector == "iforest":
                est.detector_ = IsolationForestDetector.from_arrays(arrays)
                n_features = len(est.medians_)
                if est.detector_.feature_.max(initial=-1) >= n_features:
                    raise InputError("Isolation Forest arrays name a feature the model lacks")
            else:
                raise InputError(f"unknown detector {est.detector!r}")
            est.center_ = float(config["robust"]["center"])
            est.scale_ = float(config["robust"]["scale"])
            est.train_anomaly_share_ = float(config.get("train_anomaly_share", 0.0))
            cal = config.get("calibration")
            est.calibrator_ = None if cal is None else ScoreCalibrator.from_dict(cal)
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"anomaly model files are malformed: {exc!r}") from None
        if n_features != len(est.feature_names_) or len(est.medians_) != n_features:
            raise InputError("anomaly model arrays and feature names do not fit together")
        return est
