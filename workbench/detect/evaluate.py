"""Evaluation against injected ground truth: incident precision and recall, model PR-AUC.

Ground truth comes from labelled events (synthetic ones: ``label = 'attack'``, ``campaign`` =
the injected incident). An incident is a *true positive* when any of its alerts came from a
campaign's events; *recall* is the share of injected campaigns in the window that at least one
incident contains. :func:`compare_models` measures the unsupervised and semi-supervised
user-day models by PR-AUC (average precision) with a small label budget.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from workbench.detect.alerts import SEVERITIES, SEVERITY_FLOORS, check_severity
from workbench.detect.model import SemiSupervisedUserDayModel, UserDayAnomalyModel
from workbench.detect.sql import IN_WINDOW
from workbench.detect.userdays import user_day_features
from workbench.detect.window import DetectionWindow, resolve_window
from workbench.errors import InputError
from workbench.store.base import Store

_TRUTH = f"""
SELECT
    campaign,
    any(toString(actor)) AS actor,
    min(EventTime) AS first_seen,
    max(EventTime) AS last_seen,
    count() AS events
FROM auth_events
WHERE label = 'attack' AND campaign != '' AND {IN_WINDOW}
GROUP BY campaign
ORDER BY first_seen, campaign
"""  # noqa: S608 - constant fragments only; values are bound


def injected_incidents(store: Store, window: DetectionWindow) -> pd.DataFrame:
    """List the injected incidents (campaigns) with events in the detection window.

    Parameters
    ----------
    store : Store
        Where ``auth_events`` lives.
    window : DetectionWindow
        Events in ``[start, end)``.

    Returns
    -------
    pandas.DataFrame
        ``campaign``, ``actor`` (incident type), ``first_seen``, ``last_seen``, ``events``;
        empty when the events carry no ground truth.
    """
    return store.query_df(_TRUTH, window.parameters())


def incident_metrics(
    incidents: pd.DataFrame, truth: pd.DataFrame, min_severity: str = "low"
) -> dict[str, Any]:
    """Score incidents against injected ground truth.

    Parameters
    ----------
    incidents : pandas.DataFrame
        Incident rows with ``Risk`` and ``campaigns`` (from triage).
    truth : pandas.DataFrame
        :func:`injected_incidents`.
    min_severity : str, default "low"
        Only incidents at least this severe count (precision at that level).

    Returns
    -------
    dict
        ``min_severity``, ``incidents``, ``true_positives``, ``false_positives`` (incidents
        with no injected campaign: wasted analyst time), ``precision`` (None without
        incidents), ``injected``, ``detected``, ``recall`` (None without injected
        incidents), ``incidents_per_detected`` (true-positive incidents per detected
        campaign: 1 when each attack is one incident, more when it is split), ``missed``
        (campaign ids) and ``recall_by_type`` ({actor: recall}).
    """
    check_severity(min_severity)
    kept = incidents[incidents["Risk"] >= SEVERITY_FLOORS[min_severity]]
    found = {c for cs in kept["campaigns"] for c in cs}
    true_positives = int(sum(1 for cs in kept["campaigns"] if len(cs)))
    injected = set(truth["campaign"])
    detected = injected & found
    by_type = {}
    for actor, group in truth.groupby("actor"):
        by_type[str(actor)] = round(len(set(group["campaign"]) & found) / len(group), 4)
    return {
        "min_severity": min_severity,
        "incidents": len(kept),
        "true_positives": true_positives,
        "false_positives": len(kept) - true_positives,
        "precision": round(true_positives / len(kept), 4) if len(kept) else None,
        "injected": len(injected),
        "detected": len(detected),
        "recall": round(len(detected) / len(injected), 4) if injected else None,
        "incidents_per_detected": round(true_positives / len(detected), 4) if detected else None,
        "missed": sorted(injected - found),
        "recall_by_type": by_type,
    }


def incident_report(incidents: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Return incident precision and recall at each severity floor.

    Parameters
    ----------
    incidents : pandas.DataFrame
        Incident rows from triage.
    truth : pandas.DataFrame
        :func:`injected_incidents`.

    Returns
    -------
    pandas.DataFrame
        One row per severity (``low`` = all incidents): incidents, true and false
        positives, precision, injected, detected, recall, incidents per detected campaign.
    """
    rows = []
    for level in SEVERITIES:
        m = incident_metrics(incidents, truth, level)
        keys = ("min_severity", "incidents", "true_positives", "false_positives", "precision",
                "injected", "detected", "recall", "incidents_per_detected")  # fmt: skip
        rows.append({k: m[k] for k in keys})
    return pd.DataFrame(rows)


def synthetic_user_days(
    store: Store, users: int = 200, days: int = 14, seed: int = 0, clean_days: int = 7
) -> pd.DataFrame:
    """Write one synthetic data set to an empty store and return its user-day features.

    The first ``clean_days`` days are incident-free and serve as the reference window.

    Parameters
    ----------
    store : Store
        A store whose ``auth_events`` is empty or holds only this seed's synthetic rows (use
        a fresh database per data set).
    users, days, seed : int
        As for :func:`workbench.synth.auth.generate_auth_events`.
    clean_days : int, default 7
        Reference window length, days.

    Returns
    -------
    pandas.DataFrame
        :func:`~workbench.detect.userdays.user_day_features` of the detection window, with
        the ground-truth columns.

    Raises
    ------
    InputError
        When ``auth_events`` holds other rows.
    """
    from workbench.synth.auth import source_of, write_auth_events

    other = store.query_df(
        "SELECT count() AS n FROM auth_events WHERE Source != {source:String}",
        {"source": source_of(seed)},
    )
    if int(other["n"].iloc[0]):
        raise InputError(
            "synthetic_user_days needs a store whose auth_events holds no other rows "
            "(use a fresh database for each data set)"
        )
    write_auth_events(store, users, days, seed, clean_days=clean_days, progress=False)
    window = resolve_window(store, baseline_days=float(clean_days))
    return user_day_features(store, window)


def _label_budget(positives: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    k = max(1, math.ceil(fraction * len(positives)))
    return rng.choice(positives, size=min(k, len(positives)), replace=False)


def compare_models(
    datasets: Sequence[pd.DataFrame],
    label_fraction: float = 0.01,
    repeats: int = 5,
    seed: int = 0,
) -> pd.DataFrame:
    """Measure unsupervised vs semi-supervised user-day models by PR-AUC.

    For each data set and repeat, ``label_fraction`` of the anomalous user-days (at least
    one) are revealed as labels; both models score every day and are measured on the days
    whose label was *not* revealed. Two tasks: ``all_attacks`` (any attack event that day)
    and ``account_takeover`` (days touched by an attack other than password spraying; days
    touched only by spraying, which is detected per source address, are left out).

    Parameters
    ----------
    datasets : sequence of pandas.DataFrame
        User-day features with ground truth (:func:`synthetic_user_days`).
    label_fraction : float, default 0.01
        Share of anomalous days labelled.
    repeats : int, default 5
        Label draws per data set.
    seed : int, default 0
        Seed of the label draws and models.

    Returns
    -------
    pandas.DataFrame
        One row per data set, repeat and task: ``positives``, ``labelled``, ``prevalence``,
        ``pr_auc_unsupervised``, ``pr_auc_semi_supervised``.

    Raises
    ------
    InputError
        For a bad fraction or repeat count, or a data set without ground truth.
    """
    if not 0 < float(label_fraction) <= 1:
        raise InputError(f"label_fraction must be in (0, 1], got {label_fraction}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise InputError(f"repeats must be a positive integer, got {repeats!r}")
    rows = []
    for d, days in enumerate(datasets):
        if "attack_events" not in days.columns or "attack_actors" not in days.columns:
            raise InputError(f"data set {d} has no ground-truth columns")
        attack = (days["attack_events"] > 0).to_numpy()
        actors = [set(a) for a in days["attack_actors"]]
        takeover = np.array([bool(a - {"password_spraying"}) for a in actors])
        tasks = {
            "all_attacks": (attack, np.ones(len(days), bool)),
            "account_takeover": (takeover, ~(attack & ~takeover)),
        }
        unsupervised = UserDayAnomalyModel(seed=seed).fit(days).decision_function(days)
        for r in range(repeats):
            rng = np.random.default_rng([seed, d, r])
            for task, (y, keep) in tasks.items():
                positives = np.flatnonzero(y & keep)
                if len(positives) < 2:
                    continue
                labelled = _label_budget(positives, label_fraction, rng)
                labels = np.full(len(days), -1)
                labels[labelled] = 1
                semi = SemiSupervisedUserDayModel(seed=seed).fit(days, labels)
                scored = keep & (labels == -1)
                rows.append({
                    "dataset": d, "repeat": r, "task": task, "positives": len(positives),
                    "labelled": len(labelled), "prevalence": float(y[scored].mean()),
                    "pr_auc_unsupervised":
                        float(average_precision_score(y[scored], unsupervised[scored])),
                    "pr_auc_semi_supervised": float(average_precision_score(
                        y[scored], semi.decision_function(days)[scored])),
                })  # fmt: skip
    return pd.DataFrame(rows)
