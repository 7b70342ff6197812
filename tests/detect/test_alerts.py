"""Alert rows, severities, windows and the text of reasons; hostile strings round-trip intact."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import fresh_database
from workbench.detect import (
    ALERT_COLUMNS,
    alert_frame,
    make_alert,
    make_window,
    read_alerts,
    resolve_window,
    severity_for,
    write_alerts,
)
from workbench.detect.alerts import alert_id, ground_truth, to_arrow
from workbench.detect.text import clip, duration, names, plural
from workbench.detect.window import parse_time
from workbench.errors import InputError
from workbench.store import EmbeddedStore

T0 = pd.Timestamp("2026-06-01 12:00", tz="UTC")
HOSTILE = [
    "'; DROP TABLE alerts; --",
    "{start:DateTime64(3)}",
    'back\\slash and "quotes"',
    "line\nbreak\ttab\x1b[31mred\x00nul",
    "ユーザー🙂",
    "x" * 5000,
]


def test_severity_levels():
    assert [severity_for(s) for s in (0, 39.99, 40, 64.9, 65, 84.99, 85, 100)] == [
        "low", "low", "medium", "medium", "high", "high", "critical", "critical",
    ]  # fmt: skip


def test_make_alert_checks_and_fills():
    row = make_alert("brute_force", "ip", "203.0.113.9", T0, 55.5, ["why"], {"n": 3, "bad": float("nan")},
                     users=["b", "a", "a", ""], source_ips=["203.0.113.9"])  # fmt: skip
    assert row["Severity"] == "medium" and row["Users"] == ["a", "b"]
    assert row["Features"] == {"n": 3.0}  # NaN is not a number anyone can act on
    assert row["LastSeen"] == T0 and row["Suppressed"] == 0 and row["IncidentID"] == ""
    with pytest.raises(InputError, match="entity type"):
        make_alert("x", "host", "h", T0, 50, [], {})
    with pytest.raises(InputError, match="0-100"):
        make_alert("x", "user", "u", T0, 101, [], {})


def test_alert_ids_are_stable_and_distinguish_details():
    a = alert_id("d", "user", "u", T0, "")
    assert a == alert_id("d", "user", "u", T0, "") and len(a) == 16
    assert a != alert_id("d", "user", "u", T0, "BR")
    assert a != alert_id("d", "user", "u", T0 + pd.Timedelta(milliseconds=1), "")


def test_ground_truth_from_aggregates():
    assert ground_truth({"attack_events": 2, "labelled_events": 9, "campaigns": ["inc-1"]}) == (
        "attack", "inc-1",
    )  # fmt: skip
    assert ground_truth({"attack_events": 0, "labelled_events": 9, "campaigns": []}) == (
        "normal",
        "",
    )
    assert ground_truth({"attack_events": 0, "labelled_events": 0, "campaigns": None}) == ("", "")


def test_frames_have_the_table_layout():
    empty = alert_frame([])
    assert list(empty.columns) == list(ALERT_COLUMNS) and empty.empty
    assert to_arrow(empty).num_rows == 0
    with pytest.raises(InputError, match="lack column"):
        to_arrow(empty.drop(columns=["Score"]))


def test_hostile_text_round_trips_through_the_store(store):
    rows = [
        make_alert(
            "off_hours",
            "user",
            text,
            T0 + pd.Timedelta(minutes=i),
            45,
            [text, clip(text)],
            {"k": float(i)},
            users=[text],
            source_ips=[text],
            devices=[text],
        )  # fmt: skip
        for i, text in enumerate(HOSTILE)
    ]
    alerts = alert_frame(rows)
    end = T0 + pd.Timedelta(days=1)
    assert write_alerts(store, alerts, T0, end, ["off_hours"]) == len(HOSTILE)
    back = read_alerts(store, T0, end).set_index("AlertID").loc[alerts["AlertID"]]
    assert list(back["Entity"]) == HOSTILE
    assert [r[0] for r in back["Reasons"]] == HOSTILE
    assert [u[0] for u in back["Users"]] == HOSTILE
    assert [f["k"] for f in back["Features"]] == [float(i) for i in range(len(HOSTILE))]
    # replacing the window's alerts of a detector leaves no duplicates behind
    write_alerts(store, alerts.iloc[:2], T0, end, ["off_hours"])
    assert len(read_alerts(store, T0, end)) == 2
    assert len(read_alerts(store, T0, end, min_severity="high")) == 0
    assert len(read_alerts(store, T0, end, detectors=["brute_force"])) == 0
    assert len(read_alerts(store, T0, end, limit=1)) == 1
    with pytest.raises(InputError):
        read_alerts(store, T0, end, limit=0)


@given(st.text(max_size=300), st.integers(min_value=1, max_value=200))
def test_clip_always_gives_one_printable_line(text, limit):
    out = clip(text, limit)
    assert out.isprintable() and "\n" not in out
    assert len(out) <= max(limit, 2)


def test_reason_helpers():
    assert plural(1, "account") == "1 account" and plural(1200, "account") == "1,200 accounts"
    assert duration(43) == "43 seconds" and duration(7 * 60) == "7 minutes"
    assert duration(2.5 * 3600) == "2.5 hours" and duration(3 * 86400) == "3 days"
    assert names(["root", "admin", "ubnt", "pi", "guest"]) == "root, admin, ubnt and 2 more"
    assert clip("") == '""' and clip("a\x1bb") == "a\\x1bb"


def test_windows():
    w = make_window("2026-06-08", "2026-06-15T00:00:00Z", baseline_days=7, history_days=30)
    assert w.baseline_start == pd.Timestamp("2026-06-01", tz="UTC") and w.baseline_end == w.start
    assert w.history_start == pd.Timestamp("2026-05-09", tz="UTC") and w.baseline_days == 7
    assert set(w.parameters()) == {"start", "end", "baseline_start", "baseline_end",
                                   "history_start"}  # fmt: skip
    assert "reference" in w.describe()
    assert "no reference" in make_window("2026-06-08", "2026-06-09", baseline_days=0).describe()
    with pytest.raises(InputError, match="before its end"):
        make_window("2026-06-08", "2026-06-08")
    with pytest.raises(InputError, match="baseline_days"):
        make_window("2026-06-08", "2026-06-09", baseline_days=-1)
    with pytest.raises(InputError, match="not a date"):
        parse_time("next tuesday", "start")
    assert parse_time("2026-06-08 10:00+02:00", "t") == pd.Timestamp("2026-06-08 08:00", tz="UTC")


def test_resolve_window_needs_data_or_bounds(embedded_store):
    with pytest.raises(InputError, match="auth_events is empty"):
        resolve_window(embedded_store)
    w = resolve_window(embedded_store, "2026-06-08", "2026-06-09", baseline_days=1)
    assert w.baseline_start == pd.Timestamp("2026-06-07", tz="UTC")


def test_an_older_alerts_table_is_upgraded_on_first_write(warehouse):
    old = EmbeddedStore(warehouse, database=fresh_database())
    try:
        old.command(
            "CREATE TABLE alerts (AlertID String, AlertTime DateTime64(3, 'UTC'), Detector String, "
            "EntityType String, Entity String, Score Float64, Severity String, "
            "Reasons Array(String), Features Map(String, Float64), IncidentID String, "
            "Suppressed UInt8, SuppressedBy String, label String, campaign String) "
            "ENGINE = MergeTree ORDER BY AlertID"
        )
        row = make_alert(
            "off_hours", "user", "olga", T0, 45, ["late"], {}, source_ips=["192.0.2.1"]
        )
        write_alerts(old, alert_frame([row]), T0, T0 + pd.Timedelta(days=1), ["off_hours"])
        back = read_alerts(old)
        assert back.iloc[0]["SourceIPs"] == ["192.0.2.1"] and back.iloc[0]["Users"] == []
        assert old.query_df("EXISTS TABLE incidents").iloc[0, 0] == 1
    finally:
        old.close()
