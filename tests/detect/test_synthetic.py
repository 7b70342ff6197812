"""The whole pipeline on labelled synthetic sign-ins: detection, triage, precision and recall.

200 users over 14 days, the first 7 incident-free (the reference window); the injected
incidents are in the second week. Ground truth is used to score, never to detect.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import make_embedded_store
from workbench.detect import (
    UserDayAnomalyModel,
    build_alerts,
    compare_models,
    detect_user_day_anomalies,
    incident_metrics,
    incident_report,
    injected_incidents,
    make_window,
    resolve_window,
    triage_alerts,
    user_day_features,
)
from workbench.synth.auth import generate_auth_events, write_auth_events

USERS, DAYS, SEED, CLEAN = 200, 14, 3, 7

#: The detector expected to catch each injected incident type on its own.
DEDICATED = {
    "brute_force": "brute_force",
    "password_spraying": "password_spraying",
    "impossible_travel": "impossible_travel",
    "new_country_after_reset": "first_seen_country",
    "privilege_escalation": "privilege_escalation",
    "dormant_account_reuse": "dormant_account",
}


@pytest.fixture(scope="module")
def loaded(store):
    write_auth_events(store, USERS, DAYS, SEED, clean_days=CLEAN, progress=False)
    return store


@pytest.fixture(scope="module")
def window():
    return make_window("2026-11-08", "2026-11-15", baseline_days=CLEAN)


@pytest.fixture(scope="module")
def embedded_loaded(embedded_store):
    """The embedded store with the data set, for tests that need only one backend."""
    if not embedded_store.query_df("SELECT count() AS n FROM auth_events")["n"].iloc[0]:
        write_auth_events(embedded_store, USERS, DAYS, SEED, clean_days=CLEAN, progress=False)
    return embedded_store


@pytest.fixture(scope="module")
def built(loaded, window):
    return build_alerts(loaded, window)


@pytest.fixture(scope="module")
def triaged(loaded, window, built):
    return triage_alerts(loaded, window.start, window.end)


@pytest.fixture(scope="module")
def truth(loaded, window):
    return injected_incidents(loaded, window)


def test_the_default_window_starts_after_the_clean_week(loaded, window):
    default = resolve_window(loaded, baseline_days=float(CLEAN))
    assert default.start == window.start and default.baseline_start == window.baseline_start
    assert window.start < default.end <= window.end


def test_every_injected_incident_is_caught_by_its_own_detector(built, truth):
    assert set(truth["actor"]) == set(DEDICATED)
    alerts = built.alerts
    for _, incident in truth.iterrows():
        detector = DEDICATED[incident["actor"]]
        hits = alerts[
            (alerts["campaign"] == incident["campaign"]) & (alerts["Detector"] == detector)
        ]
        assert len(hits), f"{incident['campaign']} ({incident['actor']}) not caught by {detector}"
        assert (hits["Severity"] != "low").all()
        if incident["actor"] == "new_country_after_reset":
            assert (hits["Features"].map(lambda f: f["password_reset_before"]) == 1).all()


def test_incident_precision_and_recall(triaged, truth):
    medium = incident_metrics(triaged.incidents, truth, "medium")
    assert medium["recall"] == 1.0, medium["missed"]
    assert medium["precision"] >= 0.5 and medium["false_positives"] <= 10
    assert medium["incidents_per_detected"] <= 1.5  # sprayed accounts may open their own
    high = incident_metrics(triaged.incidents, truth, "high")
    assert high["recall"] == 1.0 and high["precision"] >= 0.75
    assert high["incidents_per_detected"] == 1.0  # each attack is one high incident
    report = incident_report(triaged.incidents, truth)
    assert list(report["min_severity"]) == ["low", "medium", "high", "critical"]
    assert report["incidents"].is_monotonic_decreasing
    # ranking puts real incidents first: at least 4 of the 5 riskiest carry a campaign
    assert sum(len(c) > 0 for c in triaged.incidents.head(5)["campaigns"]) >= 4


def test_alerts_carry_reasons_features_and_truth(built):
    alerts = built.alerts
    assert (alerts["Reasons"].map(len) > 0).all()
    assert (alerts["Features"].map(len) > 0).all()
    assert set(alerts["label"]) <= {"attack", "normal"}
    assert ((alerts["label"] == "attack") == (alerts["campaign"] != "")).all()
    assert alerts["AlertID"].is_unique


def test_detectors_never_read_the_ground_truth(loaded, window, built, warehouse):
    events = generate_auth_events(USERS, DAYS, SEED, clean_days=CLEAN)
    events[["label", "actor", "campaign"]] = ["", "", ""]
    blind = make_embedded_store(warehouse)
    try:
        blind.insert_df("auth_events", events)
        again = build_alerts(blind, window, write=False).alerts
    finally:
        blind.close()
    key = ["AlertID", "Detector", "Entity", "Score", "Severity"]
    left = built.alerts[key].sort_values("AlertID").reset_index(drop=True)
    right = again[key].sort_values("AlertID").reset_index(drop=True)
    pd.testing.assert_frame_equal(left, right)
    assert list(built.alerts.sort_values("AlertID")["Reasons"]) == list(
        again.sort_values("AlertID")["Reasons"]
    )
    assert set(again["label"]) == {""}


def test_semi_supervised_beats_unsupervised_with_one_percent_labels(embedded_loaded, window):
    days = user_day_features(embedded_loaded, window)
    scores = compare_models([days], label_fraction=0.01, repeats=3, seed=0)
    mean = scores.groupby("task")[["prevalence", "pr_auc_unsupervised",
                                   "pr_auc_semi_supervised"]].mean()  # fmt: skip
    for task, row in mean.iterrows():
        assert row["pr_auc_unsupervised"] > 2 * row["prevalence"], task  # far better than chance
        assert row["pr_auc_semi_supervised"] >= row["pr_auc_unsupervised"] - 0.02, task
    everything = mean.loc["all_attacks"]
    assert everything["pr_auc_semi_supervised"] > everything["pr_auc_unsupervised"] + 0.05
    assert (scores["labelled"] >= 1).all()


def test_model_alerts_switch_to_semi_supervised_when_labels_exist(embedded_loaded, window):
    store = embedded_loaded
    days = user_day_features(store, window)
    plain = detect_user_day_anomalies(store, window, user_days=days)
    assert len(plain) and (plain["Features"].map(lambda f: f["semi_supervised"]) == 0).all()
    attacked = days[(days["attack_events"] > 0)].iloc[0]
    store.insert_df("labels", pd.DataFrame({
        "LabelID": ["test-label"], "LabelTime": [pd.Timestamp(attacked["day"], tz="UTC")],
        "EntityType": ["user"], "Entity": [attacked["User"]], "Verdict": ["malicious"],
        "Analyst": ["test"], "Source": ["test"],
    }))  # fmt: skip
    try:
        semi = detect_user_day_anomalies(store, window, user_days=days)
        off = detect_user_day_anomalies(store, window, user_days=days, use_labels=False)
    finally:  # the other tests of this module expect no labels
        store.command("ALTER TABLE labels DELETE WHERE LabelID = 'test-label'",
                      settings={"mutations_sync": 2})  # fmt: skip
    assert (semi["Features"].map(lambda f: f["semi_supervised"]) == 1).all()
    assert "resembles days analysts labelled" in " ".join(r for rs in semi["Reasons"] for r in rs)
    assert sorted(off["AlertID"]) == sorted(plain["AlertID"])


def test_model_conventions(embedded_loaded, window):
    days = user_day_features(embedded_loaded, window)
    model = UserDayAnomalyModel(seed=1)
    assert model.fit(days) is model
    again = UserDayAnomalyModel(seed=1).fit(days)
    np.testing.assert_array_equal(model.decision_function(days), again.decision_function(days))
    z = model.decision_function(days)
    assert np.median(z) == pytest.approx(0.0, abs=1e-9)
    assert (model.predict(days) == (z > 3.5)).all()
    attack = (days["attack_events"] > 0).to_numpy()
    assert z[attack].mean() > z[~attack].mean() + 1.0
