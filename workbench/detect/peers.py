"""Deviation from the peer group: an account's day compared with its department's days.

Peers are the accounts of the same ``Department`` (everyone, when departments are unknown,
as in parsed sshd logs) over the same detection window. For each peer feature the day's
value is compared with the peers' median through a robust z-score,
``(x - median) / max(1.4826 * MAD, floor)``: the median absolute deviation ignores the
outliers it is looking for, and the floor (in the feature's own units) keeps a department
where nobody ever fails a password from flagging the first typo.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.detect.alerts import alert_frame, ground_truth, make_alert
from workbench.detect.text import clip, plural
from workbench.detect.userdays import user_day_features
from workbench.detect.window import DetectionWindow
from workbench.errors import InputError
from workbench.store.base import Store

#: Peer features: (noun for reasons, floor of the robust scale in the feature's units).
PEER_FEATURES = {
    "failures": ("failed sign-in", 2.0),
    "failing_ips": ("address with failed sign-ins", 1.0),
    "source_ips": ("source address", 1.5),
    "countries": ("country", 0.5),
    "privileged": ("privileged action", 2.0),
    "password_resets": ("password reset", 0.5),
}

#: Peer features about failed passwords: their alerts name the failing address.
FAILURE_FEATURES = {"failures", "failing_ips"}


def robust_z(values: np.ndarray, floor: float) -> np.ndarray:
    """Return robust z-scores: distance from the median in units of the scaled MAD.

    Parameters
    ----------
    values : numpy.ndarray
        One group's values.
    floor : float
        Smallest scale used (when most values are equal the MAD is 0).

    Returns
    -------
    numpy.ndarray
        ``(values - median) / max(1.4826 * MAD, floor)``.
    """
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return values
    median = np.median(values)
    scale = max(1.4826 * float(np.median(np.abs(values - median))), float(floor))
    return (values - median) / scale


def detect_peer_deviation(
    store: Store,
    window: DetectionWindow,
    z_threshold: float = 3.5,
    min_peers: int = 5,
    user_days: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Find account-days far above what their department's accounts do.

    Parameters
    ----------
    store : Store
        Where ``auth_events`` lives.
    window : DetectionWindow
        Days in ``[start, end)``.
    z_threshold : float, default 3.5
        Robust z-score above which a feature deviates.
    min_peers : int, default 5
        Departments with fewer distinct accounts are compared with everyone instead.
    user_days : pandas.DataFrame, optional
        Precomputed :func:`~workbench.detect.userdays.user_day_features` for ``window``.

    Returns
    -------
    pandas.DataFrame
        Alert rows (entity: the account), one per deviating account-day.

    Raises
    ------
    InputError
        When a threshold is out of range.
    """
    if isinstance(z_threshold, bool) or not isinstance(z_threshold, int | float):
        raise InputError(f"z_threshold must be a number, got {z_threshold!r}")
    if z_threshold <= 0:
        raise InputError(f"z_threshold must be positive, got {z_threshold}")
    if isinstance(min_peers, bool) or not isinstance(min_peers, int) or min_peers < 2:
        raise InputError(f"min_peers must be an integer of at least 2, got {min_peers!r}")
    days = user_days if user_days is not None else user_day_features(store, window)
    if days.empty:
        return alert_frame([])
    group = days["Department"].fillna("").astype(str)
    sizes = days.groupby(group)["User"].nunique()
    group = group.where(group.map(sizes) >= min_peers, "")  # small departments: everyone
    everyone = group == ""
    z = pd.DataFrame(index=days.index)
    medians = pd.DataFrame(index=days.index)
    for name, (_, floor) in PEER_FEATURES.items():
        values = days[name].astype("float64")
        z[name] = np.nan
        medians[name] = np.nan
        for key, idx in days.groupby(group).groups.items():
            pool = values[idx] if key else values  # the everyone group compares with all
            pool_z = robust_z(pool.to_numpy(), floor)
            z.loc[idx, name] = pd.Series(pool_z, index=pool.index).loc[idx]
            medians.loc[idx, name] = float(np.median(pool.to_numpy()))
    rows = []
    for i in np.flatnonzero((z.to_numpy() >= z_threshold).any(axis=1)):
        row = days.iloc[i]
        dept = "all accounts" if everyone.iloc[i] else f"{clip(group.iloc[i], 30)} peers"
        hits = [n for n in PEER_FEATURES if z.iloc[i][n] >= z_threshold]
        hits.sort(key=lambda n: -z.iloc[i][n])
        reasons = [
            f"{clip(row['User'], 40)} on {row['day']:%Y-%m-%d}: "
            + "; ".join(
                f"{plural(row[n], PEER_FEATURES[n][0])} while {dept} had a median of "
                f"{medians.iloc[i][n]:g} (robust z {z.iloc[i][n]:.1f})"
                for n in hits
            )
            + " (deviation from the peer group)"
        ]
        top = float(z.iloc[i][hits[0]])
        features = {n: float(row[n]) for n in PEER_FEATURES}
        features.update({f"z_{n}": float(z.iloc[i][n]) for n in hits})
        failing = list(row["failing_ip_list"])
        # failures from one source: name it, to join that source's brute-force incident (a
        # day attacked from two sources must not bridge two attackers' incidents)
        sources = failing if set(hits) & FAILURE_FEATURES and len(failing) == 1 else []
        rows.append(make_alert(
            "peer_deviation", "user", row["User"], row["first_time"],
            min(60.0, 35.0 + 3.0 * (top - z_threshold)), reasons, features,
            last_seen=row["last_time"], users=[row["User"]],
            source_ips=sources,
            truth=ground_truth(row),
        ))  # fmt: skip
    return alert_frame(rows)
