"""The triage report: its numbers against the alerts and incidents tables, on both backends,
and the template run end to end with attacker-named accounts in the data."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import pytest

from tests.conftest import SERVER_PASSWORD, SERVER_USER, fresh_database
from tests.notebooks import data
from workbench.detect import (
    incident_metrics,
    injected_incidents,
    load_allowlist,
    make_window,
    read_alerts,
    triage_alerts,
)
from workbench.errors import InputError
from workbench.reporting import run_report
from workbench.reporting.record import RECORD_ENV, read_record
from workbench.reporting.triage import triage_report
from workbench.store import ServerStore, apply_schema
from workbench.viz import SafeHTML, plotly_js

WINDOW = (data.WINDOW["start"], data.WINDOW["end"])
ALLOWLIST = """\
rules:
  - name: night-owls
    reason: People in these teams work late.
    users: ["a*", "j*", "m*"]
    detectors: [off_hours, user_day_model, first_seen_device]
  - name: never-matches
    reason: A rule that suppresses nothing must still be listed.
    sources: ["192.0.2.77"]
"""
ESCAPED = ["&lt;img src=x onerror=alert(1)&gt;", "&lt;script&gt;alert(1)&lt;/script&gt;"]


def load_and_triage(store, folder):
    """Load the auth data (with the hostile rows), then triage it again with an allowlist."""
    data.load_auth(store)
    path = folder / "allowlist.yaml"
    path.write_text(ALLOWLIST)
    window = make_window(*WINDOW, baseline_days=6.0)
    result = triage_alerts(store, window.start, window.end, load_allowlist(path))
    return {"result": result, "window": window, "allowlist": str(path)}


@pytest.fixture(scope="module")
def loaded(store, tmp_path_factory):
    return {"store": store, **load_and_triage(store, tmp_path_factory.mktemp("allowlist"))}


def table_counts(store, window) -> dict:
    """What the report should say, counted from the tables directly."""
    alerts = read_alerts(store, window.start, window.end)
    by = alerts["SuppressedBy"]
    repeat = by.str.startswith("repeat of ")
    incidents = store.query_df(
        "SELECT Severity, campaigns FROM incidents "
        "WHERE FirstSeen >= {start:DateTime64(3)} AND FirstSeen < {end:DateTime64(3)}",
        {"start": window.start, "end": window.end},
    )
    return {
        "alerts": len(alerts),
        "suppressed": int(((alerts["Suppressed"] == 1) & ~repeat).sum()),
        "repeats": int(repeat.sum()),
        "per_rule": by[(by != "") & ~repeat].value_counts().to_dict(),
        "incidents": len(incidents),
        "critical_high": int(incidents["Severity"].isin(["critical", "high"]).sum()),
        "true_positives": int(sum(len(c) > 0 for c in incidents["campaigns"])),
        "per_detector": alerts["Detector"].value_counts().to_dict(),
        "first": alerts["AlertTime"].min(),
    }


def test_report_numbers_match_the_tables(loaded, monkeypatch, tmp_path):
    monkeypatch.setenv(RECORD_ENV, str(tmp_path / "record.json"))
    store, result, window = loaded["store"], loaded["result"], loaded["window"]
    t = triage_report(*WINDOW, limit=10, detail=3, allowlist=loaded["allowlist"], store=store)
    want = table_counts(store, window)
    s = t.summary
    assert want["alerts"] == len(result.alerts) >= 10
    assert s["alerts"] == want["alerts"] and s["repeats"] == want["repeats"] == result.repeats
    assert s["suppressed"] == want["suppressed"] == sum(result.suppressed.values()) > 0
    assert s["incidents"] == want["incidents"] == len(result.incidents) >= 2
    assert s["in_incidents"] == int((result.alerts["IncidentID"] != "").sum())
    assert sum(s["by_severity"].values()) == s["incidents"]
    assert pd.Timestamp(s["first_alert"]) == want["first"]
    # incidents ranked by risk, as triage ranked them
    assert t.incidents["IncidentID"].tolist() == result.incidents["IncidentID"].head(10).tolist()
    assert t.incidents["Rank"].tolist() == list(range(1, len(t.incidents) + 1))
    assert t.incidents["Risk"].is_monotonic_decreasing
    # every alert is in the timeline once; the top incidents' alerts are theirs
    per = t.timeline.groupby("Detector")["alerts"].sum().to_dict()
    assert per == want["per_detector"]
    top = set(t.incidents["IncidentID"].head(3))
    assert set(t.incident_alerts["IncidentID"]) == top
    assert len(t.incident_alerts) == int(result.alerts["IncidentID"].isin(top).sum())
    assert all(len(r) for r in t.incident_alerts["Reasons"])
    assert t.incident_alerts["Features"].str.contains("=").all()
    # suppressions: every rule listed, with its count, zeros included
    counts = dict(zip(t.suppressions["rule"], t.suppressions["alerts"], strict=True))
    assert counts == {**result.suppressed} and counts["never-matches"] == 0
    assert counts["night-owls"] == want["per_rule"]["night-owls"]
    # ground truth: the evaluation module's numbers, from the incidents in the store
    expected = incident_metrics(result.incidents, injected_incidents(store, window))
    assert t.metrics == expected
    assert expected["true_positives"] == want["true_positives"]
    assert "hostile-brute-force" not in expected["missed"]
    assert set(t.evaluation["min_severity"]) == {"low", "medium", "high", "critical"}
    headline = read_record(tmp_path / "record.json")["headline"]
    assert headline == {
        "alerts": want["alerts"], "incidents": want["incidents"],
        "critical_high_incidents": want["critical_high"], "suppressed": want["suppressed"],
        "repeats": want["repeats"], "precision": expected["precision"],
        "recall": expected["recall"],
    }  # fmt: skip
    assert isinstance(t.timeline_figure(), go.Figure)
    assert isinstance(t.severity_figure(), go.Figure)


def test_attacker_named_accounts_are_escaped(loaded):
    t = triage_report(*WINDOW, store=loaded["store"])
    users = {u for us in t.incidents["Users"] for u in us}
    assert set(data.HOSTILE_USERS) <= users  # the brute-forced accounts made an incident
    tables = [t.summary_table(), t.incidents_table(), t.severity_table(),
              t.incident_alerts_tables(), t.suppressions_table(), t.evaluation_table()]  # fmt: skip
    page = "".join(table.markup for table in tables)
    for payload in data.PAYLOADS:
        assert payload not in page
    for escaped in ESCAPED:
        assert escaped in page


def test_an_empty_window_says_so(loaded, monkeypatch, tmp_path):
    monkeypatch.setenv(RECORD_ENV, str(tmp_path / "record.json"))
    t = triage_report("2025-01-01", "2025-01-08", store=loaded["store"])
    assert t.summary["alerts"] == 0 and t.incidents.empty and t.metrics is None
    assert "No alerts in this window" in t.summary_table().markup
    for shown in (t.timeline_figure(), t.severity_figure(), t.incidents_table(),
                  t.incident_alerts_tables(), t.evaluation_table()):  # fmt: skip
        assert isinstance(shown, SafeHTML) and "wb-note" in shown.markup
    headline = read_record(tmp_path / "record.json")["headline"]
    assert headline["alerts"] == 0 and headline["precision"] is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limit": 0}, "limit must be an integer between 1 and 1000"),
        ({"limit": "5"}, "limit must be an integer"),
        ({"detail": 101}, "detail must be an integer between 1 and 100"),
        ({"start": "2026-11-02", "end": "2026-11-01"}, "must be before end"),
        ({"start": "yesterday-ish"}, "start"),
        ({"allowlist": "/nonexistent/allow.yaml"}, "does not exist"),
    ],
)
def test_bad_parameters_are_refused(loaded, kwargs, message):
    with pytest.raises(InputError, match=message):
        triage_report(**{"start": WINDOW[0], "end": WINDOW[1], **kwargs}, store=loaded["store"])


@pytest.fixture(scope="module")
def server_env(chdb_server, tmp_path_factory):
    """A server database with the auth data triaged, and the kernel's settings."""
    database = fresh_database()
    admin = ServerStore(chdb_server.url, password=SERVER_PASSWORD, user=SERVER_USER, retries=1)
    admin.command(f"CREATE DATABASE {database}")
    admin.close()
    url = f"{chdb_server.url}/{database}"
    store = ServerStore(url, password=SERVER_PASSWORD, user=SERVER_USER, retries=2)
    apply_schema(store)
    loaded = load_and_triage(store, tmp_path_factory.mktemp("allowlist"))
    want = table_counts(store, loaded["window"])
    want["metrics"] = incident_metrics(
        loaded["result"].incidents, injected_incidents(store, loaded["window"])
    )
    store.close()
    env = {"WB_CLICKHOUSE_URL": url, "WB_CLICKHOUSE_USER": SERVER_USER,
           "WB_CLICKHOUSE_PASSWORD": SERVER_PASSWORD}  # fmt: skip
    return {"env": env, "want": want, "allowlist": loaded["allowlist"]}


@pytest.mark.slow
def test_template_runs_end_to_end(server_env, tmp_path):
    params = {**data.WINDOW, "limit": "10", "allowlist": server_env["allowlist"]}
    result = run_report("triage", params, reports_dir=tmp_path, env=server_env["env"])
    assert result.ok, result.record.error
    want, headline = server_env["want"], result.record.headline
    assert headline["alerts"] == want["alerts"] and headline["incidents"] == want["incidents"]
    assert headline["critical_high_incidents"] == want["critical_high"]
    assert headline["suppressed"] == want["suppressed"] and headline["repeats"] == want["repeats"]
    assert headline["precision"] == want["metrics"]["precision"]
    assert headline["recall"] == want["metrics"]["recall"]
    assert result.record.context["data_first"].startswith("2026-11-01")
    page = result.html_path.read_text().replace(plotly_js(), "")
    assert page.count("Plotly.newPlot") == 2
    for payload in data.PAYLOADS:
        assert payload not in page
    for escaped in ESCAPED:
        assert escaped in page
    assert "never-matches" in page and "night-owls" in page and "Incident precision" in page
    assert SERVER_PASSWORD not in page


@pytest.mark.slow
def test_template_on_a_window_without_alerts(server_env, tmp_path):
    params = {"start": "2025-01-01T00:00:00Z", "end": "2025-01-02T00:00:00Z"}
    result = run_report("triage", params, reports_dir=tmp_path, env=server_env["env"])
    assert result.ok, result.record.error
    assert result.record.headline["alerts"] == 0 and result.record.headline["incidents"] == 0
    page = result.html_path.read_text()
    assert "No alerts in this window" in page and page.count("Plotly.newPlot") == 0
