"""Synthetic authentication events: habits, incidents and their ground truth, the store."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.errors import InputError, InvalidIdentifier
from workbench.synth.auth import (
    COLUMNS,
    DEFAULT_START,
    EVENT_TYPES,
    INCIDENT_TYPES,
    generate_auth_events,
    generate_auth_users,
    incident_counts,
    summarize_incidents,
    write_auth_events,
)
from workbench.synth.geo import CITIES, NETWORK_COUNTRY, NETWORKS, haversine_km

USERS, DAYS, SEED = 300, 14, 11


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    return generate_auth_events(USERS, DAYS, SEED)


@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    return generate_auth_users(USERS, SEED)


def _speeds(logins: pd.DataFrame) -> pd.DataFrame:
    """Speed (km/h) implied by each event and the same user's previous one."""
    logins = logins.sort_values(["User", "EventTime"], kind="stable")
    prev = logins.groupby("User")[["Latitude", "Longitude", "EventTime", "actor"]].shift()
    km = haversine_km(prev["Latitude"], prev["Longitude"], logins["Latitude"], logins["Longitude"])
    hours = (logins["EventTime"] - prev["EventTime"]).dt.total_seconds() / 3600
    return logins.assign(
        km=km,
        hours=hours,
        speed=np.where(km > 0, km / np.maximum(hours, 1e-9), 0.0),
        prev_actor=prev["actor"],
    )


# -- shape and determinism ----------------------------------------------------------------


def test_columns_dtypes_and_values(events):
    assert tuple(events.columns) == COLUMNS
    assert str(events["EventTime"].dtype) == "datetime64[ms, UTC]"
    assert events["EventTime"].is_monotonic_increasing
    assert events["EventID"].is_unique
    assert set(events["EventType"]) == set(EVENT_TYPES)
    assert set(events["label"]) == {"normal", "attack"}
    assert (events["Source"] == f"synth:auth:seed={SEED}").all()
    assert events["EventTime"].min() >= DEFAULT_START
    assert events["EventTime"].max() < DEFAULT_START + pd.Timedelta(days=DAYS)
    assert events["Raw"].str.len().min() > 20
    invalid = events["UserValid"] == 0
    assert (events.loc[invalid, "EventType"] == "invalid_user").all()
    assert (events.loc[invalid, "Department"] == "").all()
    assert (events.loc[~invalid, "Department"] != "").all()
    assert set(events["User"]) - set(events.loc[invalid, "User"]) <= set(
        generate_auth_users(USERS, SEED)["User"]
    )


def test_same_seed_same_rows_other_seed_other_rows(events):
    again = generate_auth_events(USERS, DAYS, SEED)
    pd.testing.assert_frame_equal(events, again)
    other = generate_auth_events(USERS, DAYS, SEED + 1)
    assert not other["EventID"].isin(events["EventID"]).any()
    assert set(other["User"]) != set(events["User"])


@pytest.mark.slow
def test_output_does_not_depend_on_the_process():
    code = (
        "import hashlib; from workbench.synth.auth import generate_auth_events as g; "
        "print(hashlib.sha256(g(40, 5, 3).to_csv().encode()).hexdigest())"
    )
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        digests.add(done.stdout.strip())
    here = hashlib.sha256(generate_auth_events(40, 5, 3).to_csv().encode()).hexdigest()
    assert digests == {here}


def test_start_is_a_utc_day_and_shifts_everything():
    a = generate_auth_events(30, 4, 5, start="2024-03-01")
    b = generate_auth_events(30, 4, 5, start=pd.Timestamp("2024-03-01 17:30", tz="UTC"))
    pd.testing.assert_frame_equal(a, b)  # time of day dropped
    assert a["EventTime"].min() >= pd.Timestamp("2024-03-01", tz="UTC")
    assert a["EventTime"].max() < pd.Timestamp("2024-03-05", tz="UTC")


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"users": 5}, "users"),
        ({"users": 10.5}, "users"),
        ({"days": 0}, "days"),
        ({"days": True}, "days"),
        ({"seed": -1}, "seed"),
        ({"seed": "7"}, "seed"),
        ({"start": "not a date"}, "start"),
        ({"incident_scale": -1}, "incident_scale"),
        ({"incident_scale": float("nan")}, "incident_scale"),
    ],
)
def test_bad_arguments_name_what_is_wrong(kwargs, names):
    with pytest.raises(InputError, match=names):
        generate_auth_events(**{"users": 20, "days": 3, **kwargs})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    users=st.integers(10, 60),
    days=st.integers(3, 9),
    seed=st.integers(0, 2**63 - 1),
    scale=st.sampled_from([0, 0.3, 1.0, 4.0]),
    data=st.data(),
)
def test_invariants_hold_for_any_size_and_seed(users, days, seed, scale, data):
    clean = data.draw(st.integers(0, days - 2))
    events = generate_auth_events(users, days, seed, incident_scale=scale, clean_days=clean)
    assert events["EventID"].is_unique and events["EventTime"].is_monotonic_increasing
    assert events["EventTime"].min() >= DEFAULT_START
    assert events["EventTime"].max() < DEFAULT_START + pd.Timedelta(days=days)
    attack = events[events["label"] == "attack"]
    wanted = {k for k, v in incident_counts(users, days, scale).items() if v}
    assert set(attack["actor"]) == wanted
    if len(attack):
        assert attack["EventTime"].min() >= DEFAULT_START + pd.Timedelta(days=clean)
    own = events[(events["label"] == "normal") & (events["UserValid"] == 1)]
    assert _speeds(own)["speed"].max() <= 900


# -- users' own habits --------------------------------------------------------------------


def test_normal_logins_cluster_in_working_hours_and_home_country(events, people):
    logins = events[(events["label"] == "normal") & (events["EventType"] == "login_success")]
    m = logins.merge(people, on="User", validate="many_to_one")
    t = m["EventTime"].dt
    local = (t.hour + t.minute / 60 + m["UtcOffset"]) % 24
    into_day = (local - m["WorkStart"]) % 24
    in_hours = (into_day <= m["WorkHours"] + 1.5).groupby(m["User"]).mean()
    at_home = (m["SourceCountry"] == m["Country"]).groupby(m["User"]).mean()
    assert in_hours.median() > 0.9 and (in_hours > 0.6).mean() > 0.95
    assert at_home.median() == 1.0 and (at_home > 0.5).mean() > 0.95
    # the same day spread over 24 hours would put ~60 % outside working hours
    assert in_hours.mean() > 0.85
    usual = (m["SourceASN"] == m["HomeASN"]) | (m["SourceASN"] == m["MobileASN"])
    assert usual.mean() > 0.9


def test_departments_differ_in_habits(events, people):
    logins = events[(events["label"] == "normal") & (events["EventType"] == "login_success")]
    per_dept = logins.groupby("Department")
    assert set(per_dept.groups) == set(people["Department"])
    ssh_share = per_dept["Service"].agg(lambda s: (s == "sshd").mean())
    assert ssh_share["engineering"] > 0.1 and ssh_share["it"] > 0.1
    assert ssh_share["finance"] == 0 and ssh_share["sales"] == 0
    sudo_users = set(
        events.loc[(events["EventType"] == "sudo") & (events["label"] == "normal"), "User"]
    )
    assert set(people.loc[people["User"].isin(sudo_users), "Department"]) <= {"engineering", "it"}
    home = people.groupby("Department")["Country"].agg(lambda s: s.value_counts().index[0])
    assert home["support"] in {"PH", "IN", "US"}


def test_each_user_has_few_devices_and_typos_precede_success(events, people):
    normal = events[(events["label"] == "normal") & (events["UserValid"] == 1)]
    devices = normal.groupby("User")["Device"].nunique()
    assert devices.max() <= 3
    for user, own in normal.groupby("User"):
        listed = set(people.loc[people["User"] == user, "Devices"].iloc[0])
        assert set(own["Device"]) <= listed, user
    fails = normal[normal["EventType"] == "login_failure"]
    assert len(fails) > 20
    ok = normal[normal["EventType"] == "login_success"].sort_values("EventTime")
    after = pd.merge_asof(
        fails.sort_values("EventTime"), ok[["EventTime", "User", "SourceIP"]],
        on="EventTime", by="User", direction="forward", suffixes=("", "_ok"),
    )  # fmt: skip
    assert after["SourceIP_ok"].notna().mean() > 0.95
    assert (after["SourceIP_ok"] == after["SourceIP"]).mean() > 0.95


def test_normal_travel_never_implies_impossible_speed(events):
    own = events[(events["label"] == "normal") & (events["UserValid"] == 1)]
    sp = _speeds(own)
    moves = sp[sp["km"] > 0]
    assert len(moves) > 5  # people do travel, and their moves are checked
    assert sp["speed"].max() <= 900
    # and flights take hours: every move between cities spans at least 1 hour
    assert moves["hours"].min() >= 1.0


def test_dormant_accounts_are_silent_after_the_first_day(events, people):
    dormant = set(people.loc[people["Dormant"], "User"])
    assert 0.01 * USERS <= len(dormant) <= 0.06 * USERS
    own = events[(events["label"] == "normal") & events["User"].isin(dormant)]
    assert (own["EventTime"] < DEFAULT_START + pd.Timedelta(days=1.5)).all()


# -- incidents and ground truth -----------------------------------------------------------


def test_every_incident_type_is_present_with_consistent_ground_truth(events):
    attack = events["label"] == "attack"
    assert ((events["campaign"] != "") == attack).all()
    assert ((events["actor"] != "user") == attack).all()
    truth = summarize_incidents(events)
    assert truth["campaign"].is_unique
    assert truth["campaign"].str.fullmatch(r"inc-\d{4}").all()
    assert (events[attack].groupby("campaign")["actor"].nunique() == 1).all()
    expected = incident_counts(USERS, DAYS)
    assert truth["actor"].value_counts().to_dict() == {k: v for k, v in expected.items() if v}
    assert set(truth["actor"]) == set(INCIDENT_TYPES)
    assert truth["first_seen"].is_monotonic_increasing  # numbered by start time


def test_incident_counts_scale_with_users_and_days():
    small, big = incident_counts(100, 7), incident_counts(2000, 28)
    assert all(small[k] >= 1 for k in INCIDENT_TYPES)
    assert all(big[k] > small[k] for k in INCIDENT_TYPES)
    assert abs(incident_counts(2000, 28, 2.0)["brute_force"] - 2 * big["brute_force"]) <= 1
    assert set(incident_counts(100, 7, 0).values()) == {0}


def test_no_incidents_when_scale_is_zero():
    clean = generate_auth_events(50, 5, 2, incident_scale=0)
    assert set(clean["label"]) == {"normal"}
    assert set(clean["actor"]) == {"user"}
    assert summarize_incidents(clean).empty


def test_clean_days_keep_a_reference_window_free_of_incidents():
    events = generate_auth_events(200, 10, 3, clean_days=6)
    attack = events[events["label"] == "attack"]
    assert attack["EventTime"].min() >= DEFAULT_START + pd.Timedelta(days=6)
    assert set(attack["actor"]) == set(INCIDENT_TYPES)
    normal = events[events["label"] == "normal"]
    assert normal["EventTime"].min() < DEFAULT_START + pd.Timedelta(days=1)
    with pytest.raises(InputError, match="clean_days"):
        generate_auth_events(200, 10, 3, clean_days=9)


def test_brute_force_is_many_failures_on_one_account_from_one_source(events):
    bf = events[events["actor"] == "brute_force"]
    for camp, e in bf.groupby("campaign"):
        assert e["User"].nunique() == 1 and e["SourceIP"].nunique() == 1, camp
        failures = (e["EventType"] == "login_failure").sum()
        assert failures >= 20 and failures >= len(e) - 1
        if e["Success"].any():  # a final success, after the last failure
            assert e.loc[e["Success"] == 1, "EventTime"].min() == e["EventTime"].max()
        span_s = (e["EventTime"].max() - e["EventTime"].min()).total_seconds()
        assert span_s / len(e) < 30  # a tool, not a person


def test_password_spraying_is_one_source_many_accounts_few_tries(events):
    sp = events[events["actor"] == "password_spraying"]
    for camp, e in sp.groupby("campaign"):
        assert e["SourceIP"].nunique() == 1, camp
        assert e["User"].nunique() >= 10
        assert e.groupby("User").size().max() <= 3
        assert (e["UserValid"] == 0).any()  # guessed names that are nobody
        assert (e.loc[e["UserValid"] == 0, "EventType"] == "invalid_user").all()
        assert e["Success"].sum() <= 1


def test_impossible_travel_pairs_imply_more_than_900_kmh(events):
    logins = events[events["EventType"] == "login_success"]
    sp = _speeds(logins)
    it = sp[sp["actor"] == "impossible_travel"]
    assert len(it) == incident_counts(USERS, DAYS)["impossible_travel"]
    assert (it["prev_actor"] == "user").all()  # right after the user's own sign-in
    assert (it["speed"] > 900).all()
    assert (it["hours"] < 2).all()
    # and it is only attack sign-ins, or a user's own right after one, that move that fast
    fast = sp[sp["speed"] > 900]
    assert ((fast["actor"] != "user") | (fast["prev_actor"] != "user")).all()


def test_new_country_after_reset(events):
    inc = events[events["actor"] == "new_country_after_reset"]
    own = events[events["label"] == "normal"]
    for camp, e in inc.groupby("campaign"):
        user = e["User"].iloc[0]
        first = e.iloc[0]
        assert first["EventType"] == "password_reset", camp
        logins = e[e["EventType"] == "login_success"]
        assert len(logins) >= 1 and (logins["EventTime"] > first["EventTime"]).all()
        countries = set(own.loc[own["User"] == user, "SourceCountry"])
        assert countries and not set(logins["SourceCountry"]) & countries


def test_privilege_escalation_follows_an_anomalous_login(events, people):
    pe = events[events["actor"] == "privilege_escalation"]
    own = events[events["label"] == "normal"]
    for camp, e in pe.groupby("campaign"):
        user = e["User"].iloc[0]
        first = e.iloc[0]
        assert first["EventType"] == "login_success", camp
        seen_asn = set(own.loc[own["User"] == user, "SourceASN"])
        seen_dev = set(own.loc[own["User"] == user, "Device"])
        assert first["SourceASN"] not in seen_asn and first["Device"] not in seen_dev
        profile = people.set_index("User").loc[user]
        local = (
            first["EventTime"].hour + first["EventTime"].minute / 60 + profile["UtcOffset"]
        ) % 24
        assert local < 6  # off-hours
        changes = e[e["EventType"] == "privilege_change"]
        assert changes["Success"].iloc[-1] == 1 and (changes["TargetUser"] == user).all()
        later = e[e["EventType"].isin(["privilege_change", "sudo"])]
        assert (later["EventTime"] > first["EventTime"]).all()
        assert (later["EventTime"] - first["EventTime"]).max() < pd.Timedelta(hours=3)


def test_dormant_account_reuse_comes_after_a_long_gap_from_a_new_place(events, people):
    dormant = set(people.loc[people["Dormant"], "User"])
    reuse = events[events["actor"] == "dormant_account_reuse"]
    assert reuse["campaign"].nunique() == incident_counts(USERS, DAYS)["dormant_account_reuse"]
    for camp, e in reuse.groupby("campaign"):
        user = e["User"].iloc[0]
        assert user in dormant and e["User"].nunique() == 1, camp
        own = events[(events["User"] == user) & (events["label"] == "normal")]
        assert (own["EventTime"] < e["EventTime"].min()).all()
        last = own["EventTime"].max() if len(own) else events["EventTime"].min()
        assert e["EventTime"].min() - last > pd.Timedelta(days=7)
        assert not set(e["SourceASN"]) & set(own["SourceASN"])
        assert not set(e["Device"]) & set(own["Device"])
        assert (e["EventType"] == "login_success").any()
    untouched = dormant - set(reuse["User"])
    assert untouched  # some dormant accounts stay dormant: negatives for the detector


# -- the Raw rendering looks like real logs -----------------------------------------------


def test_sshd_and_sudo_lines_parse_like_the_real_auth_log(events, shared_data):
    real = (shared_data / "auth_logs" / "sshd_auth.log").read_text().splitlines()
    patterns = {
        "login_failure": r"\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ sshd\[\d+\]: Failed password for "
        r"(\S+) from (\S+) port (\d+) ssh2",
        "login_success": r"\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ sshd\[\d+\]: Accepted \w+ for "
        r"(\S+) from (\S+) port (\d+) ssh2",
        "invalid_user": r"\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ sshd\[\d+\]: Invalid user (\S+) "
        r"from (\S+)(?: port (\d+))?",
    }
    ssh = events[events["Service"] == "sshd"]
    for etype, pattern in patterns.items():
        assert any(re.fullmatch(pattern, line) for line in real), etype
        rows = ssh[ssh["EventType"] == etype]
        for row in rows.head(50).itertuples():
            m = re.fullmatch(pattern, row.Raw)
            assert m, row.Raw
            assert m.group(1) == row.User and m.group(2) == row.SourceIP
    sudo_re = r"\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ sudo: +(\S+) : TTY=\S+ ; PWD=\S+ ; USER=root ; COMMAND=(.+)"
    assert any(re.fullmatch(sudo_re, line) for line in real)
    sudo = events[(events["EventType"] == "sudo") & (events["Success"] == 1)].head(50)
    assert len(sudo) and all(re.fullmatch(sudo_re, r) for r in sudo["Raw"])
    idp = events[events["Service"] == "sso"].head(50)
    assert all(f"src={r.SourceIP}:{r.SourcePort}" in r.Raw for r in idp.itertuples())


def test_geo_tables_are_consistent():
    countries = {c.country for c in CITIES}
    assert set(NETWORK_COUNTRY) <= countries  # every network has a city to locate it
    assert len({n.asn for n in NETWORKS}) == len(NETWORKS)
    assert haversine_km(51.5074, -0.1278, 40.7128, -74.0060) == pytest.approx(5570, rel=0.01)


# -- the store ----------------------------------------------------------------------------


def test_write_round_trips_through_the_store(store):
    n = write_auth_events(store, users=40, days=4, seed=21, progress=False, chunk_rows=1000)
    expected = generate_auth_events(40, 4, 21)
    assert n == len(expected)
    back = store.query_df(
        "SELECT * FROM auth_events WHERE Source = {s:String} ORDER BY EventID",
        parameters={"s": "synth:auth:seed=21"},
    )
    expected = expected.sort_values("EventID").reset_index(drop=True)
    assert list(back.columns) == list(COLUMNS)
    for col in COLUMNS:
        if col == "EventTime":
            assert (back[col].dt.tz_convert("UTC").to_numpy() == expected[col].to_numpy()).all()
        else:
            assert back[col].astype(str).tolist() == expected[col].astype(str).tolist(), col
    # writing the same seed again replaces instead of duplicating; other seeds are kept
    write_auth_events(store, users=20, days=3, seed=22, progress=False)
    again = write_auth_events(store, users=40, days=4, seed=21, progress=False)
    counts = store.query_df("SELECT Source, count() AS n FROM auth_events GROUP BY Source")
    counts = dict(zip(counts["Source"], counts["n"], strict=True))
    assert counts["synth:auth:seed=21"] == again == n
    assert counts["synth:auth:seed=22"] == len(generate_auth_events(20, 3, 22))


def test_write_refuses_a_hostile_table_name(store):
    with pytest.raises(InvalidIdentifier):
        write_auth_events(store, users=10, days=3, table="auth_events; DROP TABLE x")


# -- the command line ---------------------------------------------------------------------


def test_cli_auth_writes_the_table_and_says_what_it_did(capsys):
    from workbench.store import connect
    from workbench.synth.cli import app

    args = ["auth", "--users", "20", "--days", "3", "--seed", "4", "--no-progress"]
    app(args=args, standalone_mode=False)
    out = capsys.readouterr().out
    expected = generate_auth_events(20, 3, 4)
    assert f"wrote {len(expected):,} auth events" in out and "brute_force" in out
    with connect() as store:
        got = store.query_df(
            "SELECT count() AS n, uniqExact(campaign) - 1 AS incidents FROM auth_events "
            "WHERE Source = {s:String}",
            parameters={"s": "synth:auth:seed=4"},
        )
    assert got["n"].iloc[0] == len(expected)
    assert got["incidents"].iloc[0] == expected["campaign"].nunique() - 1


@pytest.mark.parametrize(
    ("args", "needle"),
    [(["--users", "3"], "users"), (["--incident-scale", "-2"], "incident_scale")],
)
def test_cli_auth_refuses_bad_arguments(args, needle):
    from workbench.synth.cli import app

    with pytest.raises(InputError, match=needle):
        app(args=["auth", "--no-progress", *args], standalone_mode=False)
