"""Rule baselines for entities: a few one-feature rules whose thresholds are learned.

A detection engineer's first cut at "is this IP automated?" is a couple of rules: it says
it is a bot, it asks faster than a person clicks, it never loads a stylesheet. The
:class:`RuleBaseline` is that, fitted honestly in the same run as the model it is compared
with: each rule is a decision stump on one feature whose threshold maximises balanced
accuracy on the *training* entities; the baseline's probability is the weighted share of
rules that fire (weights = each rule's training balanced accuracy above chance), calibrated
on validation data like every other model, so it gets a 1–99 score and the same metrics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from workbench.errors import InputError
from workbench.models.calibration import BAD_SCORE_THRESHOLD, ScoreCalibrator
from workbench.models.tabular import binary_target, feature_matrix

KIND = "rule_baseline"


@dataclass(frozen=True)
class Rule:
    """One rule: ``feature >= threshold`` (``direction="high"``) or ``<=`` (``"low"``) flags.

    Attributes
    ----------
    feature : str
        Entity feature name.
    direction : {"high", "low"}
        Whether high or low values mean automated.
    threshold : float or None
        Learned by :meth:`RuleBaseline.fit`; ``None`` never fires (no usable values).
    weight : float
        Balanced accuracy on training data minus 0.5 (0 for a useless rule).
    """

    feature: str
    direction: str
    threshold: float | None = None
    weight: float = 0.0

    def fires(self, values: np.ndarray) -> np.ndarray:
        """Return where the rule flags (missing values never flag)."""
        if self.threshold is None:
            return np.zeros(len(values), dtype=bool)
        with np.errstate(invalid="ignore"):
            hit = values >= self.threshold if self.direction == "high" else values <= self.threshold
        return hit & ~np.isnan(values)

    def describe(self) -> str:
        """Return the rule as text (``bot_ua_share >= 0.5``)."""
        if self.threshold is None:
            return f"{self.feature} (never fires)"
        op = ">=" if self.direction == "high" else "<="
        return f"{self.feature} {op} {self.threshold:.6g}"


#: Default rules: declared automation, speed, and no page assets (a browser loads them).
DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("bot_ua_share", "high"),
    Rule("rate_per_minute_peak", "high"),
    Rule("asset_share", "low"),
)


def best_threshold(values: np.ndarray, y: np.ndarray, direction: str) -> tuple[float, float]:
    """Return the threshold with the best balanced accuracy, and that accuracy.

    Parameters
    ----------
    values : numpy.ndarray
        One feature (NaN never flags).
    y : numpy.ndarray
        0/1 target with both classes.
    direction : {"high", "low"}
        Flag values at or above (``high``) or at or below (``low``) the threshold.

    Returns
    -------
    tuple of float
        ``(threshold, balanced_accuracy)``; ties go to the most conservative threshold.
    """
    if direction not in ("high", "low"):
        raise InputError(f"rule direction must be 'high' or 'low', not {direction!r}")
    ok = ~np.isnan(values)
    v = values[ok] if direction == "high" else -values[ok]
    t = y[ok]
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    if not len(v) or not n_pos or not n_neg:
        return (float("inf") if direction == "high" else float("-inf")), 0.5
    order = np.argsort(-v, kind="stable")  # flag the largest first
    v, t = v[order], t[order]
    tp, fp = np.cumsum(t), np.cumsum(1 - t)
    last = np.r_[v[1:] != v[:-1], True]  # cut only between distinct values
    bal = 0.5 * (tp / n_pos + 1.0 - fp / n_neg)
    bal = np.where(last, bal, -np.inf)
    best = int(np.argmax(bal))  # first maximum = highest (most conservative) cut
    threshold = float(v[best]) if direction == "high" else float(-v[best])
    return threshold, float(bal[best])


class RuleBaseline:
    """A few learned one-feature rules; probability = weighted share of rules that fire.

    Parameters
    ----------
    rules : sequence of Rule, default DEFAULT_RULES
        Features and directions (thresholds are learned).
    calibration : {"isotonic", "platt"}, default "isotonic"

    Attributes
    ----------
    rules_ : list of Rule
        With learned thresholds and weights.
    calibrator_ : ScoreCalibrator
        Fitted on validation data.
    """

    def __init__(
        self, rules: Sequence[Rule] = DEFAULT_RULES, calibration: str = "isotonic"
    ) -> None:
        self.rules = rules
        self.calibration = calibration

    def fit(self, X: Any, y: Any, X_val: Any, y_val: Any) -> RuleBaseline:
        """Learn each rule's threshold on ``X, y``; calibrate on ``X_val, y_val``.

        Parameters
        ----------
        X : pandas.DataFrame
            Entity features holding every rule's feature.
        y : array-like of {0, 1}
            1 = automated.
        X_val, y_val
            Validation data with both classes.

        Returns
        -------
        RuleBaseline
            ``self``.

        Raises
        ------
        InputError
            When a rule's feature is missing or a target has one class.
        """
        names = [r.feature for r in self.rules]
        if not names:
            raise InputError("a rule baseline needs at least one rule")
        values, _ = feature_matrix(X, names)
        target = binary_target(y, len(values))
        if len(np.unique(target)) < 2:
            raise InputError("training data needs both automated and human entities")
        rules = []
        for i, rule in enumerate(self.rules):
            threshold, bal = best_threshold(values[:, i], target, rule.direction)
            if not np.isfinite(threshold):
                rules.append(Rule(rule.feature, rule.direction, None, 0.0))
                continue
            rules.append(Rule(rule.feature, rule.direction, threshold, max(bal - 0.5, 0.0)))
        if sum(r.weight for r in rules) == 0:
            rules = [Rule(r.feature, r.direction, r.threshold, 1.0) for r in rules]
        self.rules_ = rules
        val_values, _ = feature_matrix(X_val, names)
        self.calibrator_ = ScoreCalibrator(self.calibration).fit(
            self._vote(val_values), binary_target(y_val, len(val_values), "y_val")
        )
        return self

    def _vote(self, values: np.ndarray) -> np.ndarray:
        weights = np.array([r.weight for r in self.rules_])
        fired = np.column_stack([r.fires(values[:, i]) for i, r in enumerate(self.rules_)])
        return (fired * weights).sum(axis=1) / weights.sum()

    def _check_fitted(self) -> None:
        if not hasattr(self, "rules_"):
            raise InputError("the RuleBaseline is not fitted; call fit() first")

    def predict_bad_proba(self, X: Any, calibrated: bool = True) -> np.ndarray:
        """Return the (calibrated) probability of automated per entity."""
        self._check_fitted()
        values, _ = feature_matrix(X, [r.feature for r in self.rules_])
        p = self._vote(values)
        return self.calibrator_.predict_proba(p) if calibrated else p

    def score_1_99(self, X: Any) -> np.ndarray:
        """Return bot scores (1 = automated) from the calibrated vote."""
        return self.calibrator_.score(self.predict_bad_proba(X, calibrated=False))

    def predict(self, X: Any) -> np.ndarray:
        """Return 1 where the score is below 30."""
        return (self.score_1_99(X) < BAD_SCORE_THRESHOLD).astype(np.int8)

    def describe(self) -> list[str]:
        """Return the learned rules as text, with their weights."""
        self._check_fitted()
        return [f"{r.describe()} (weight {r.weight:.3f})" for r in self.rules_]

    def to_dict(self) -> dict[str, Any]:
        """Return the fitted baseline as JSON-ready values."""
        self._check_fitted()
        return {
            "kind": KIND,
            "rules": [asdict(r) for r in self.rules_],
            "calibration": self.calibrator_.to_dict(),
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> RuleBaseline:
        """Rebuild a baseline written by :meth:`to_dict`.

        Raises
        ------
        InputError
            When a value is missing or malformed.
        """
        try:
            rules = [Rule(**dict(r)) for r in values["rules"]]
            est = cls(rules=rules)
            est.rules_ = rules
            est.calibrator_ = ScoreCalibrator.from_dict(values["calibration"])
        except (KeyError, TypeError) as exc:
            raise InputError(f"rule baseline settings are malformed: {exc!r}") from None
        return est
