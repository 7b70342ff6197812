"""Every detector on hand-made scenarios: exactly the expected entities, the right reasons."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.detect import scenarios
from tests.detect.events import at, load
from workbench.detect import (
    DETECTORS,
    build_alerts,
    build_baselines,
    detect_brute_force,
    detect_dormant_account,
    detect_first_seen,
    detect_impossible_travel,
    detect_off_hours,
    detect_password_spraying,
    detect_privilege_escalation,
    event_rarity,
    make_window,
    read_alerts,
    usual_hours,
)
from workbench.errors import InputError

RULE_DETECTORS = [d for d in DETECTORS if d != "user_day_model"]


@pytest.fixture(scope="module")
def loaded(store):
    load(store, scenarios.rows())
    return store


@pytest.fixture(scope="module")
def window():
    return make_window(at(7), at(14), baseline_days=7)


@pytest.fixture(scope="module")
def built(loaded, window):
    return build_alerts(loaded, window, RULE_DETECTORS, write=False).alerts


def _one(alerts: pd.DataFrame, detector: str, entity: str) -> pd.Series:
    rows = alerts[(alerts["Detector"] == detector) & (alerts["Entity"] == entity)]
    assert len(rows) == 1, (detector, entity, len(rows))
    return rows.iloc[0]


def test_each_detector_flags_exactly_the_expected_entities(built):
    got = {d: set(g["Entity"]) for d, g in built.groupby("Detector")}
    assert got == scenarios.EXPECTED


def test_brute_force_counts_folded_repeats_and_sees_the_guessed_password(built):
    guessed = _one(built, "brute_force", "203.0.113.10")
    assert guessed["Severity"] == "critical"
    assert (
        guessed["Features"]["failures"] == 30 and guessed["Features"]["compromised_accounts"] == 1
    )
    assert "signed in as bf.victim" in guessed["Reasons"][0]
    assert (
        "30 failed passwords for bf.victim from 203.0.113.10 (BR, AS 28573) in 5 minutes"
        in (guessed["Reasons"][1])
    )
    # 3 "message repeated 7 times" lines and one plain line are 22 attempts, not 4
    folded = _one(built, "brute_force", "203.0.113.13")
    assert folded["Features"]["failures"] == 22 and folded["Severity"] == "medium"
    assert folded["EntityType"] == "ip" and folded["SourceIPs"] == ["203.0.113.13"]


def test_brute_force_thresholds_are_honoured(loaded, window):
    strict = detect_brute_force(loaded, window, min_failures=25)
    assert set(strict["Entity"]) == {"203.0.113.10"}
    loose = detect_brute_force(loaded, window, min_failures=10)
    assert "203.0.113.11" in set(loose["Entity"])  # 15 failures: flagged at 10
    joined = detect_brute_force(loaded, window, max_gap_minutes=90)
    assert "203.0.113.12" in set(joined["Entity"])  # hourly failures join into one burst
    with pytest.raises(InputError, match="min_failures"):
        detect_brute_force(loaded, window, min_failures=0)
    with pytest.raises(InputError, match="max_gap_minutes"):
        detect_brute_force(loaded, window, max_gap_minutes=-1)


def test_spraying_reports_accounts_and_unknown_names(built, loaded, window):
    spray = _one(built, "password_spraying", "198.51.100.20")
    assert spray["Features"]["accounts"] == 15 and spray["Features"]["invalid_accounts"] == 3
    assert spray["Features"]["median_tries"] == 1 and len(spray["Users"]) == 15
    assert "15 accounts tried from 198.51.100.20" in spray["Reasons"][0]
    assert spray["Severity"] == "medium"
    # the office address where everyone succeeds after a typo is a spray only without the guard
    unguarded = detect_password_spraying(loaded, window, max_signed_in_share=1.0)
    assert "198.51.100.30" in set(unguarded["Entity"])
    with pytest.raises(InputError, match="max_signed_in_share"):
        detect_password_spraying(loaded, window, max_signed_in_share=1.5)


def test_impossible_travel_measures_distance_and_speed(built, loaded, window):
    trips = built[(built["Detector"] == "impossible_travel") & (built["Entity"] == "traveller.far")]
    assert list(trips["AlertTime"]) == [at(9, 13, 30), at(9, 14)]  # there, and back home
    far = trips.iloc[0]
    assert 15_500 < far["Features"]["km"] < 16_500  # Berlin - Sydney
    assert far["Features"]["kmh"] == pytest.approx(far["Features"]["km"] / 0.5, rel=1e-6)
    assert far["SourceIPs"] == sorted(["192.0.2.14", "1.128.0.5"])
    assert far["Severity"] == "high"
    # Berlin - Paris (880 km) in 4 hours is a train, unless the limit is lowered
    slow = detect_impossible_travel(loaded, window, max_kmh=150)
    assert "traveller.near" in set(slow["Entity"])


def test_first_seen_after_a_password_reset_is_critical(built):
    country = _one(built, "first_seen_country", "novel.reset")
    assert country["Severity"] == "critical" and country["Features"]["password_reset_before"] == 1
    assert "password was reset 40 minutes before" in country["Reasons"][1]
    trip = _one(built, "first_seen_country", "traveller.far")
    assert trip["Severity"] == "low" and trip["Features"]["known_device"] == 1


def test_off_hours_names_the_hours_and_the_usual_ones(built):
    owl = _one(built, "off_hours", "night.owl")
    assert "(03:00, 04:00 UTC)" in owl["Reasons"][0]
    assert "between 09:00 and 17:59 UTC" in owl["Reasons"][0]
    assert owl["Features"]["offhours_logins"] == 2


def test_dormant_account_measures_idle_time(built, loaded, window):
    sleepy = _one(built, "dormant_account", "sleepy")
    assert sleepy["Features"]["idle_days"] == pytest.approx(12 + 10 / 24 - 17 / 24, abs=1e-6)
    assert sleepy["Features"]["country_changed"] == 1 and sleepy["Severity"] == "high"
    assert detect_dormant_account(loaded, window, min_idle_days=12).empty
    with pytest.raises(InputError, match="min_idle_days"):
        detect_dormant_account(loaded, window, min_idle_days=0)


def test_privilege_escalation_ties_actions_to_their_session(built, loaded, window):
    admin = _one(built, "privilege_escalation", "admin.stranger")
    assert admin["Features"]["role_changes_done"] == 1 and admin["Features"]["new_device"] == 1
    assert admin["Features"]["minutes_to_first_action"] == pytest.approx(7.0)
    ops = _one(built, "privilege_escalation", "ops.stranger")
    assert ops["Features"]["sudo"] == 1 and "/bin/bash" in ops["Reasons"][1]
    # with a 5-minute limit the role change (7 minutes later) no longer counts
    quick = detect_privilege_escalation(loaded, window, within_minutes=5)
    assert set(quick["Entity"]) == {"ops.stranger"}


def test_no_ground_truth_in_the_events_means_none_on_the_alerts(built):
    assert set(built["label"]) == {""} and set(built["campaign"]) == {""}


def test_accounts_without_a_baseline_are_not_judged(loaded, window):
    strict = detect_first_seen(loaded, window, min_baseline_logins=22)
    assert strict.empty  # everyone has 21 reference sign-ins
    assert detect_off_hours(loaded, window, min_baseline_logins=22).empty


def test_baselines_and_rarity(loaded, window):
    base = build_baselines(loaded, window).set_index("User")
    owl = base.loc["night.owl"]
    assert owl["logins"] == 21 and owl["active_days"] == 7 and owl["success_ratio"] == 1.0
    assert list(owl["countries"]) == ["DE"] and list(owl["asns"]) == [3320]
    assert list(owl["hour_counts"]) == [7 if h in (9, 13, 17) else 0 for h in range(24)]
    assert usual_hours(owl["hour_counts"]) == (9, 17)
    assert base.loc["bf.victim"]["failures"] == 0  # failures came after the reference week
    rare = event_rarity(loaded, window, user="novel.reset")
    new = rare[rare["SourceCountry"] == "BR"].iloc[0]
    assert new["baseline_logins"] == 21 and new["same_country"] == 0
    assert new["country_rarity"] == pytest.approx(-__import__("math").log2(1 / 23))
    usual = rare[rare["SourceCountry"] == "DE"]
    assert (usual["country_rarity"] < 0.1).all() and len(usual) == 14
    with pytest.raises(InputError, match="limit"):
        event_rarity(loaded, window, limit=0)


def test_usual_hours_wraps_midnight_and_checks_input():
    counts = [0] * 24
    counts[22], counts[23], counts[0], counts[1] = 5, 5, 5, 5
    assert usual_hours(counts) == (22, 1)
    with pytest.raises(InputError):
        usual_hours([1, 2, 3])
    with pytest.raises(InputError):
        usual_hours([0] * 24)


def test_build_writes_and_a_rerun_replaces(loaded, window):
    first = build_alerts(loaded, window, ["brute_force", "first_seen"])
    assert first.written == len(first.alerts) > 0
    again = build_alerts(loaded, window, ["brute_force", "first_seen"])
    stored = read_alerts(loaded, window.start, window.end)
    assert sorted(stored["AlertID"]) == sorted(again.alerts["AlertID"])
    assert set(stored["Detector"]) == {"brute_force", "first_seen_country", "first_seen_asn",
                                       "first_seen_device"}  # fmt: skip
    counts = again.counts()
    assert counts.loc["brute_force", "total"] == 2 and counts.loc["brute_force", "critical"] == 1
    with pytest.raises(InputError, match="no threshold 'bogus'"):
        build_alerts(loaded, window, ["brute_force"], {"brute_force": {"bogus": 1}})
    with pytest.raises(InputError, match="not selected"):
        build_alerts(loaded, window, ["brute_force"], {"off_hours": {"max_share": 0.1}})
    with pytest.raises(InputError, match="unknown detector"):
        build_alerts(loaded, window, ["telepathy"])


def test_peer_groups_fall_back_to_everyone_for_small_departments(window):
    from workbench.detect import detect_peer_deviation
    from workbench.detect.peers import PEER_FEATURES, robust_z

    n = 12
    days = pd.DataFrame({
        "User": [f"u{i}" for i in range(n)], "day": [at(8).date()] * n,
        "Department": ["sales"] * 10 + ["legal"] * 2,
        "first_time": [at(8, 9)] * n, "last_time": [at(8, 17)] * n,
        **{name: [0.0] * n for name in PEER_FEATURES},
        "failing_ip_list": [[] for _ in range(n)], "attack_events": [0] * n,
        "labelled_events": [0] * n, "campaigns": [[] for _ in range(n)],
    })  # fmt: skip
    days.loc[3, ["failures", "failing_ips"]] = [40.0, 1.0]
    days.at[3, "failing_ip_list"] = ["203.0.113.7"]
    days.loc[11, "privileged"] = 12.0  # legal has 2 accounts: compared with everyone
    alerts = detect_peer_deviation(None, window, user_days=days, min_peers=5)
    assert set(alerts["Entity"]) == {"u3", "u11"}
    u3 = alerts.set_index("Entity").loc["u3"]
    assert "sales peers had a median of 0" in u3["Reasons"][0] and u3["SourceIPs"] == [
        "203.0.113.7"
    ]
    assert "all accounts had a median of 0" in alerts.set_index("Entity").loc["u11"]["Reasons"][0]
    assert robust_z([1.0, 1.0, 1.0, 5.0], 0.5).tolist() == [0.0, 0.0, 0.0, 8.0]
    with pytest.raises(InputError, match="min_peers"):
        detect_peer_deviation(None, window, user_days=days, min_peers=1)
