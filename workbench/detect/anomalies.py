"""Alerts from the user-day anomaly models, semi-supervised when analysts' labels exist.

Labels come from the ``labels`` table: rows with ``EntityType = 'user'`` name an account in
``Entity`` and apply to the UTC day of ``LabelTime``. A verdict in :data:`ANOMALOUS_VERDICTS`
marks the day anomalous, one in :data:`NORMAL_VERDICTS` normal; the latest label of a day
wins. With at least one anomalous label in the window the semi-supervised model runs,
otherwise the unsupervised one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.detect.alerts import alert_frame, ground_truth, make_alert
from workbench.detect.model import SemiSupervisedUserDayModel, UserDayAnomalyModel
from workbench.detect.text import clip, plural
from workbench.detect.userdays import user_day_features
from workbench.detect.window import DetectionWindow
from workbench.errors import InputError
from workbench.store.base import Store

#: Verdicts that mark a user-day anomalous.
ANOMALOUS_VERDICTS = ("attack", "malicious", "anomalous", "compromised", "bad", "true_positive")
#: Verdicts that mark a user-day normal.
NORMAL_VERDICTS = ("normal", "benign", "good", "false_positive")
#: How the driving features read in a reason: singular and plural nouns.
FEATURE_WORDS = {
    "logins": ("sign-in", "sign-ins"),
    "failures": ("failed password", "failed passwords"),
    "invalid_attempts": ("attempt on unknown accounts", "attempts on unknown accounts"),
    "source_ips": ("source address", "source addresses"),
    "failing_ips": ("address with failures", "addresses with failures"),
    "countries": ("country", "countries"),
    "new_countries": ("new country", "new countries"),
    "new_asns": ("new network", "new networks"),
    "new_devices": ("new device", "new devices"),
    "offhours_logins": ("off-hours sign-in", "off-hours sign-ins"),
    "max_idle_days": ("day idle before", "days idle before"),
    "privileged": ("privileged action", "privileged actions"),
    "privileged_failed": ("denied privileged action", "denied privileged actions"),
    "password_resets": ("password reset", "password resets"),
    "services": ("service used", "services used"),
}


_LABELS = """
SELECT Entity AS User, toDate(LabelTime) AS day, argMax(toString(Verdict), LabelTime) AS verdict
FROM labels
WHERE EntityType = 'user' AND LabelTime >= {start:DateTime64(3)} AND LabelTime < {end:DateTime64(3)}
GROUP BY User, day
"""


def load_user_day_labels(store: Store, window: DetectionWindow) -> pd.DataFrame:
    """Read analysts' verdicts on accounts as user-day labels.

    Parameters
    ----------
    store : Store
        Where the ``labels`` table lives.
    window : DetectionWindow
        Labels dated in ``[start, end)``.

    Returns
    -------
    pandas.DataFrame
        ``User``, ``day``, ``y`` (1 anomalous, 0 normal); verdicts in neither list are
        left out.
    """
    found = store.query_df(_LABELS, window.parameters())
    verdict = found["verdict"].str.lower()
    found["y"] = np.where(verdict.isin(ANOMALOUS_VERDICTS), 1, -1)
    found.loc[verdict.isin(NORMAL_VERDICTS), "y"] = 0
    return found.loc[found["y"] >= 0, ["User", "day", "y"]].reset_index(drop=True)


def label_vector(user_days: pd.DataFrame, labels: pd.DataFrame) -> np.ndarray:
    """Align user-day labels with feature rows: 1, 0, or -1 where unlabelled.

    Parameters
    ----------
    user_days : pandas.DataFrame
        Rows with ``User`` and ``day``.
    labels : pandas.DataFrame
        ``User``, ``day``, ``y`` (see :func:`load_user_day_labels`).

    Returns
    -------
    numpy.ndarray
        One label per row of ``user_days``.
    """
    if labels.empty:
        return np.full(len(user_days), -1, dtype=np.int64)
    keyed = labels.assign(day=pd.to_datetime(labels["day"]).dt.date)
    merged = user_days[["User", "day"]].assign(day=pd.to_datetime(user_days["day"]).dt.date)
    merged = merged.merge(keyed, on=["User", "day"], how="left")
    return merged["y"].fillna(-1).astype(np.int64).to_numpy()


def _describe(name: str, value: float) -> str:
    if name == "fail_ratio":
        return f"{value:.0%} of attempts failed"
    if name == "max_speed_kmh":
        return f"{value:,.0f} km/h between successive sign-ins"
    if name in FEATURE_WORDS:
        one, many = FEATURE_WORDS[name]
        return plural(round(value, 1), one, many)
    return f"{name} {value:g}"


def detect_user_day_anomalies(
    store: Store,
    window: DetectionWindow,
    threshold: float = 3.5,
    probability_threshold: float = 0.9,
    use_labels: bool = True,
    seed: int = 0,
    user_days: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Score every user-day of the window and alert on the anomalous ones.

    Parameters
    ----------
    store : Store
        Where ``auth_events`` (and ``labels``) live.
    window : DetectionWindow
        Days in ``[start, end)``.
    threshold : float, default 3.5
        Robust z-score of the unsupervised anomaly score above which a day alerts.
    probability_threshold : float, default 0.9
        Semi-supervised only: classifier probability above which a day alerts.
    use_labels : bool, default True
        Use analysts' labels (semi-supervised) when any anomalous one exists.
    seed : int, default 0
        Seed of the models.
    user_days : pandas.DataFrame, optional
        Precomputed :func:`~workbench.detect.userdays.user_day_features` for ``window``.

    Returns
    -------
    pandas.DataFrame
        Alert rows from detector ``user_day_model`` (entity: the account). Fewer than 10
        user-days give no alerts (nothing to learn "ordinary" from).

    Raises
    ------
    InputError
        When a threshold is not positive.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or threshold <= 0:
        raise InputError(f"threshold must be a positive number, got {threshold!r}")
    days = user_days if user_days is not None else user_day_features(store, window)
    if len(days) < 10:
        return alert_frame([])
    y = label_vector(days, load_user_day_labels(store, window)) if use_labels else None
    base = UserDayAnomalyModel(threshold=threshold, seed=seed).fit(days)
    z = base.decision_function(days)
    flagged = z > threshold
    probability = np.zeros(len(days))
    semi = y is not None and bool((y == 1).any())
    if semi:
        model = SemiSupervisedUserDayModel(
            probability_threshold=probability_threshold, threshold=threshold, seed=seed
        ).fit(days, y)
        probability = model.probability(days)
        flagged = model.predict(days).astype(bool) & (y != 0)  # an analyst said normal
    drivers = base.drivers(days)
    rows = []
    for i in np.flatnonzero(flagged):
        row = days.iloc[i]
        top = [(n, s) for n, s in drivers[i] if n != "has_baseline"]
        why = ", ".join(_describe(n, row[n]) for n, _ in top) or "an unusual mix of features"
        reasons = [
            f"{clip(row['User'], 40)} on {row['day']:%Y-%m-%d} looks unlike the other "
            f"account-days (anomaly score {z[i]:.1f} robust z, threshold {threshold:g}): {why}"
        ]
        if semi and probability[i] >= probability_threshold:
            reasons.append(
                f"resembles days analysts labelled anomalous ({probability[i]:.0%}, "
                f"from {int((y == 1).sum())} labelled days)"
            )
        score = min(70.0, 35.0 + 4.0 * max(z[i] - threshold, 0.0))
        if semi:
            score = max(score, min(70.0, 35.0 + 35.0 * probability[i]))
        features = {n: float(row[n]) for n, _ in top}
        features.update({"anomaly_z": float(z[i]), "semi_supervised": float(semi)})
        if semi:
            features["label_probability"] = float(probability[i])
        rows.append(make_alert(
            "user_day_model", "user", row["User"], row["first_time"], score, reasons, features,
            last_seen=row["last_time"], users=[row["User"]], truth=ground_truth(row),
        ))  # fmt: skip
    return alert_frame(rows)
