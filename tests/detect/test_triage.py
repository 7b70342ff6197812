"""Triage: allowlist suppression, repeats, grouping into incidents, ranking; the allowlist file."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench.detect import (
    alert_frame,
    load_allowlist,
    make_alert,
    parse_allowlist,
    read_alerts,
    read_incidents,
    triage,
    triage_alerts,
    write_alerts,
)
from workbench.detect.allowlist import EXAMPLE
from workbench.detect.triage import incident_risk
from workbench.errors import InputError

T0 = pd.Timestamp("2026-05-04 08:00", tz="UTC")


def alert(detector, entity, hours=0.0, score=50.0, *, kind="user", users=(), ips=(), devices=(),
          campaign="", last_hours=None):  # fmt: skip
    time = T0 + pd.Timedelta(hours=hours)
    last = T0 + pd.Timedelta(hours=last_hours) if last_hours is not None else time
    users = users or ((entity,) if kind == "user" else ())
    ips = ips or ((entity,) if kind == "ip" else ())
    truth = ("attack", campaign) if campaign else ("normal", "")
    return make_alert(detector, kind, entity, time, score, [f"{detector} on {entity}"], {"x": 1.0},
                      last_seen=last, users=users, source_ips=ips, devices=devices, truth=truth,
                      detail=f"{hours}")  # fmt: skip


def by_entity(result) -> dict[str, str]:
    return dict(zip(result.alerts["Entity"], result.alerts["IncidentID"], strict=True))


def test_alerts_sharing_a_user_or_an_address_form_one_incident():
    alerts = alert_frame([
        alert("brute_force", "203.0.113.9", 0, 60, kind="ip", users=("alice",)),
        alert("first_seen_country", "alice", 1, 55, ips=("203.0.113.9",)),
        alert("impossible_travel", "alice", 2, 75, ips=("203.0.113.9", "192.0.2.4")),
        alert("first_seen_country", "bob", 3, 55, ips=("198.51.100.7",)),
    ])  # fmt: skip
    result = triage(alerts)
    ids = by_entity(result)
    assert ids["203.0.113.9"] == ids["alice"] != ids["bob"]
    assert len(result.incidents) == 2
    top = result.incidents.iloc[0]
    assert top["Alerts"] == 3 and top["RiskRank"] == 1
    assert top["Detectors"] == ["brute_force", "first_seen_country", "impossible_travel"]
    assert top["Users"] == ["alice"] and top["SourceIPs"] == ["192.0.2.4", "203.0.113.9"]
    # risk: best score 75, three families (+10), two entities (+3), 2 log2(3) for the count
    assert top["Risk"] == pytest.approx(75 + 10 + 3 + 2 * 1.5849625, abs=0.01)
    assert top["Severity"] == "critical" and result.incidents.iloc[1]["Risk"] == 55


def test_links_expire_after_the_window():
    alerts = alert_frame(
        [alert("off_hours", "carol", 0, 45), alert("first_seen_asn", "carol", 30, 45)]
    )
    apart = triage(alerts, window_hours=24)
    assert apart.incidents["Alerts"].tolist() == [1, 1]
    together = triage(alerts, window_hours=36)
    assert together.incidents["Alerts"].tolist() == [2]
    # an alert's own span counts: a detection lasting until hour 20 reaches hour 30 in 24 h
    long = alert_frame([alert("off_hours", "carol", 0, 45, last_hours=20),
                        alert("first_seen_asn", "carol", 30, 45)])  # fmt: skip
    assert triage(long, window_hours=24).incidents["Alerts"].tolist() == [2]


def test_hubs_and_long_lists_do_not_link():
    shared = [
        alert("first_seen_country", f"user{i}", i, 45, ips=("198.51.100.1",)) for i in range(7)
    ]
    result = triage(alert_frame(shared), hub_limit=5)
    assert len(result.incidents) == 7  # one NAT address behind 7 accounts links nothing
    assert len(triage(alert_frame(shared), hub_limit=10).incidents) == 1
    spray = alert("password_spraying", "203.0.113.50", 0, 60, kind="ip",
                  users=tuple(f"user{i}" for i in range(20)))  # fmt: skip
    victim = alert("first_seen_asn", "user3", 1, 45, ips=("192.0.2.50",))
    result = triage(alert_frame([spray, victim]))
    assert len(set(result.alerts["IncidentID"])) == 2  # a sprayed account is not the spray
    owned = alert("impossible_travel", "user3", 2, 75, ips=("203.0.113.50", "192.0.2.50"))
    result = triage(alert_frame([spray, victim, owned]))
    assert len(set(result.alerts["IncidentID"])) == 1  # signing in from the sprayer is


def test_repeats_are_dropped_and_recorded():
    alerts = alert_frame([
        alert("off_hours", "dave", 0, 45), alert("off_hours", "dave", 5, 49),
        alert("off_hours", "dave", 10, 41), alert("off_hours", "dave", 30, 45),
    ])  # fmt: skip
    result = triage(alerts)
    rows = result.alerts.set_index("Score")
    kept = rows.loc[49.0]
    assert kept["Suppressed"] == 0
    for score in (45.0, 41.0):
        first = rows.loc[[score]].iloc[0]
        assert first["Suppressed"] == 1 and first["SuppressedBy"] == f"repeat of {kept['AlertID']}"
        assert first["IncidentID"] == kept["IncidentID"] != ""
    assert result.repeats == 2
    assert sorted(result.incidents["Repeats"]) == [0, 2]  # the hour-30 alert opens its own


def test_weak_groups_are_not_incidents():
    alerts = alert_frame(
        [alert("off_hours", "erin", 0, 30), alert("first_seen_asn", "frank", 0, 45)]
    )
    result = triage(alerts, min_severity="medium")
    assert len(result.incidents) == 1 and result.ungrouped == 1
    assert by_entity(result)["erin"] == ""
    assert len(triage(alerts, min_severity="low").incidents) == 2
    assert triage(alerts, min_severity="critical").incidents.empty


def test_allowlist_suppression_is_recorded_and_counted():
    rules = parse_allowlist(
        """
rules:
  - name: office
    reason: office NAT
    sources: ["198.51.100.0/24"]
    detectors: [first_seen_asn, first_seen_country]
    max_severity: medium
  - name: svc
    users: ["svc-*"]
  - name: old
    sources: ["192.0.2.0/24"]
    expires: 2026-05-01
"""
    )
    alerts = alert_frame([
        alert("first_seen_asn", "gina", 0, 45, ips=("198.51.100.20",)),      # office: hidden
        alert("first_seen_asn", "hank", 0, 70, ips=("198.51.100.21",)),      # too severe
        alert("first_seen_asn", "ivan", 0, 45, ips=("198.51.100.22", "203.0.113.1")),  # not all
        alert("impossible_travel", "jill", 0, 45, ips=("198.51.100.23",)),   # other detector
        alert("off_hours", "svc-backup", 0, 45),                             # svc: hidden
        alert("off_hours", "kate", 0, 45, ips=("192.0.2.9",)),               # rule expired
    ])  # fmt: skip
    result = triage(alerts, rules)
    hidden = result.alerts.set_index("Entity")
    assert hidden.loc["gina", "SuppressedBy"] == "office" and hidden.loc["gina", "Suppressed"] == 1
    assert hidden.loc["svc-backup", "SuppressedBy"] == "svc"
    for name in ("hank", "ivan", "jill", "kate"):
        assert hidden.loc[name, "Suppressed"] == 0
    assert result.suppressed == {"office": 1, "svc": 1, "old": 0}
    assert hidden.loc["gina", "IncidentID"] == ""  # suppressed alerts open no incident


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: [{name: a}]", "give 'sources' or 'users'"),
        ("rules: [{name: a, sources: [not-an-ip]}]", "'not-an-ip' is not an IP address"),
        ("rules: [{name: a, users: [x], colour: red}]", "unknown key"),
        ("rules: [{name: 'a b', users: [x]}]", "'name' must be"),
        ("rules: [{name: a, users: [x]}, {name: a, users: [y]}]", "unique"),
        ("rules: [{name: a, users: [x], detectors: [telepathy]}]", "unknown detector"),
        ("rules: [{name: a, users: [x], max_severity: extreme}]", "max_severity"),
        ("rules: [{name: a, users: [x], expires: someday}]", "'expires' must be a date"),
        ("rules: {name: a}", "'rules' must be a list"),
        ("allow: []", "one key, 'rules'"),
        ("rules: [a: b: c", "not valid YAML"),
    ],
)
def test_allowlist_errors_name_the_problem(text, message):
    with pytest.raises(InputError, match=message):
        parse_allowlist(text, "test.yaml")


def test_the_example_allowlist_loads(tmp_path):
    rules = load_allowlist(EXAMPLE)
    assert [r.name for r in rules.rules] == [
        "office-egress",
        "security-scanner",
        "service-accounts",
    ]
    assert all(r.reason for r in rules.rules)
    with pytest.raises(InputError, match="no such allowlist"):
        load_allowlist(tmp_path / "missing.yaml")


def test_hostile_addresses_never_match_a_network():
    rules = parse_allowlist("rules: [{name: lan, sources: ['10.0.0.0/8']}]")
    assert rules.match(alert_frame([alert("off_hours", "m", 0, 45, ips=("10.0.0.1",))]).iloc[0])
    for ip in ("10.0.0.1; DROP TABLE alerts", "10.0.0.1\n", " 10.0.0.1", "::ffff:10.0.0.1x", ""):
        frame = alert_frame([alert("first_seen_asn", "mallory", 0, 45, ips=(ip,))])
        assert rules.match(frame.iloc[0]) == "", ip


def test_risk_and_settings_are_checked():
    assert incident_risk([40.0], 1, 1, 1) == 40.0
    assert incident_risk([99.0, 90.0], 5, 5, 40) == 100.0
    with pytest.raises(InputError):
        incident_risk([], 1, 1, 0)
    alerts = alert_frame([alert("off_hours", "x", 0, 45)])
    with pytest.raises(InputError, match="window_hours"):
        triage(alerts, window_hours=0)
    with pytest.raises(InputError, match="severity"):
        triage(alerts, min_severity="urgent")
    with pytest.raises(InputError, match="lack column"):
        triage(alerts.drop(columns=["Users"]))


def test_triage_in_the_store_writes_incidents_and_flags(store):
    alerts = alert_frame([
        alert("brute_force", "203.0.113.9", 0, 92, kind="ip", users=("alice",),
              campaign="inc-0001"),
        alert("first_seen_device", "alice", 1, 30, ips=("203.0.113.9",), campaign="inc-0001"),
        alert("first_seen_device", "alice", 2, 30, ips=("203.0.113.9",), campaign="inc-0001"),
        alert("off_hours", "svc-night", 3, 45),
    ])  # fmt: skip
    start, end = T0, T0 + pd.Timedelta(days=1)
    write_alerts(store, alerts, start, end, ["brute_force", "first_seen_device", "off_hours"])
    rules = parse_allowlist("rules: [{name: svc, users: ['svc-*']}]")
    result = triage_alerts(store, start, end, rules)
    stored = read_alerts(store, start, end).set_index("AlertTime")
    assert stored["IncidentID"].nunique() == 2  # the incident, and '' for the suppressed one
    assert stored.loc[T0 + pd.Timedelta(hours=3), "SuppressedBy"] == "svc"
    assert stored.loc[T0 + pd.Timedelta(hours=2), "SuppressedBy"].startswith("repeat of ")
    incidents = read_incidents(store, start, end)
    assert len(incidents) == 1 and incidents.iloc[0]["Alerts"] == 2
    assert list(incidents.iloc[0]["campaigns"]) == ["inc-0001"]
    assert incidents.iloc[0]["IncidentID"] == result.incidents.iloc[0]["IncidentID"]
    again = triage_alerts(store, start, end)  # no allowlist now: nothing suppressed by rule
    assert len(read_incidents(store, start, end)) == len(again.incidents) == 2
    assert (read_alerts(store, start, end)["SuppressedBy"] == "svc").sum() == 0
