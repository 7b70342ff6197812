"""Brute force on a real sshd auth.log: the sources found are the top failed-password sources.

The expectation is computed from the raw file with a regular expression, independently of the
ingest parser and of the detector's SQL: failed passwords per source address, a syslog
``message repeated N times: [ Failed password ... ]`` line counting N.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from workbench.detect import detect_brute_force, detect_password_spraying, make_window
from workbench.detect.sql import FAILURE_WEIGHT
from workbench.ingest import ingest

FAILED = re.compile(
    r"sshd\[\d+\]: (?:message repeated (?P<n>\d+) times: \[ )?"
    r"Failed password for (?:invalid user )?.*? from (?P<ip>[0-9a-fA-F.:]+) port \d+"
)
#: Bursts of at least this many failed passwords are brute force (the detector's default).
MIN_FAILURES = 20


@pytest.fixture(scope="module")
def sshd_log(shared_data):
    path = shared_data / "auth_logs" / "sshd_auth.log"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


@pytest.fixture(scope="module")
def failed_per_source(sshd_log) -> Counter:
    counts: Counter = Counter()
    for line in sshd_log.read_text(encoding="utf-8", errors="replace").splitlines():
        found = FAILED.search(line)
        if found:
            counts[found["ip"]] += int(found["n"] or 1)
    return counts


@pytest.fixture(scope="module")
def loaded(store, sshd_log):
    ingest(store, "auth-log", sshd_log, year=2017, progress=False)
    return store


@pytest.fixture(scope="module")
def window():
    return make_window("2017-01-01", "2018-01-01", baseline_days=0)


def test_repeats_column_counts_what_the_detectors_count(loaded, failed_per_source):
    """``Repeats`` (stored by ingest) agrees with the file and with the detectors' weight."""
    per_source = loaded.query_df(
        "SELECT SourceIP, sum(Repeats) AS n FROM auth_events "
        "WHERE EventType = 'login_failure' AND AuthMethod = 'password' GROUP BY SourceIP"
    )
    assert dict(zip(per_source["SourceIP"], per_source["n"], strict=True)) == failed_per_source
    differ = loaded.query_df(
        f"SELECT countIf(Repeats != {FAILURE_WEIGHT}) AS differ, countIf(Repeats > 1) AS folded "  # noqa: S608
        "FROM auth_events WHERE EventType = 'login_failure'"
    ).iloc[0]
    assert differ["differ"] == 0 and differ["folded"] > 0


def test_brute_force_sources_are_the_top_failed_password_sources(loaded, window, failed_per_source):
    alerts = detect_brute_force(loaded, window, min_failures=MIN_FAILURES)
    ranked = failed_per_source.most_common()
    top = {ip for ip, n in ranked if n >= MIN_FAILURES}
    assert len(top) >= 5  # the log has a handful of heavy hitters ...
    assert ranked[len(top)][1] < MIN_FAILURES / 1.25  # ... well clear of the rest
    assert set(alerts["Entity"]) == top
    # each flagged source's count matches the raw file (within the burst that was flagged)
    for _, alert in alerts.iterrows():
        assert alert["Features"]["failures"] <= failed_per_source[alert["Entity"]]
        assert alert["Features"]["failures"] >= MIN_FAILURES
    by_count = alerts.groupby("Entity")["Features"].apply(lambda f: max(x["failures"] for x in f))
    heaviest = ranked[0][0]
    assert by_count.idxmax() == heaviest


def test_the_heaviest_source_guessed_a_password(loaded, window, failed_per_source):
    alerts = detect_brute_force(loaded, window).set_index("Entity")
    heaviest = failed_per_source.most_common(1)[0][0]
    alert = alerts.loc[heaviest]
    # the log shows "Accepted password for elastic_user_0 from 24.151.103.17" right after
    assert alert["Severity"] == "critical" and "elastic_user_0" in alert["Reasons"][0]
    assert all(a["Severity"] in ("medium", "high") for e, a in alerts.iterrows() if e != heaviest)


def test_a_higher_threshold_keeps_the_top_sources_only(loaded, window, failed_per_source):
    alerts = detect_brute_force(loaded, window, min_failures=100)
    assert set(alerts["Entity"]) == {ip for ip, n in failed_per_source.items() if n >= 100}


def test_spraying_is_not_brute_force(loaded, window):
    brute = set(detect_brute_force(loaded, window)["Entity"])
    spray = detect_password_spraying(loaded, window)
    assert not brute & set(spray["Entity"])
    for _, alert in spray.iterrows():
        assert alert["Features"]["median_tries"] <= 3 and alert["Features"]["accounts"] >= 10
