"""The monitoring report: an injected campaign change is flagged, quiet windows stay quiet.

The data is that of ``tests/monitor/test_drift.py`` (its helpers, fewer requests): day 2 is a
draw of day 1's distribution, day 3 is day 2 with one scraper campaign changed. The report must
show exactly the numbers of the ``workbench.monitor`` functions it runs.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import plotly.graph_objects as go
import pytest

from tests.conftest import SERVER_PASSWORD, SERVER_USER, fresh_database
from tests.monitor.test_drift import (
    DAY1,
    DAY2,
    DAY3,
    DAY4,
    IN_DAY2,
    MIX,
    SCORE_MODEL,
    TOUCHED_MAJOR,
    _copy_day2_with_injection,
    _score,
)
from workbench.errors import InputError
from workbench.monitor import drift_report, monitoring_history, performance_over_time
from workbench.reporting import run_report
from workbench.reporting.monitor_report import monitor_report
from workbench.reporting.record import RECORD_ENV, read_record
from workbench.store import ServerStore, apply_schema
from workbench.synth import write_traffic
from workbench.viz import SafeHTML

REQUESTS = 40_000  # as test_drift.py: fewer make the same-distribution days differ
QUIET = (DAY1, DAY2, DAY2, DAY3)
INJECTED = (DAY1, DAY2, DAY3, DAY4)


def _load(store, requests: int = REQUESTS) -> None:
    """Day 1 and day 2 from one distribution, day 3 with the largest scraper campaign changed."""
    write_traffic(store, requests, days=1, seed=101, start=DAY1, mix=MIX, progress=False)
    write_traffic(store, requests, days=1, seed=202, start=DAY2, mix=MIX, progress=False)
    campaign = store.query_df(
        "SELECT campaign FROM http_requests WHERE actor = 'scraper' AND "
        f"{IN_DAY2} GROUP BY campaign ORDER BY count() DESC, campaign LIMIT 1",
        {"start": DAY2, "end": DAY3},
    )["campaign"].iloc[0]
    _copy_day2_with_injection(store, campaign)
    _score(store)


@pytest.fixture(scope="module")
def traffic(embedded_store):
    _load(embedded_store)
    return embedded_store


def _windows(times: tuple) -> dict:
    return dict(zip(("reference_start", "reference_end", "start", "end"), times, strict=True))


def test_an_injected_campaign_change_is_flagged(traffic, monkeypatch, tmp_path):
    monkeypatch.setenv(RECORD_ENV, str(tmp_path / "record.json"))
    report = monitor_report(**_windows(INJECTED), model=SCORE_MODEL, weight="requests",
                            truth="ground_truth", store=traffic)  # fmt: skip
    direct = drift_report(traffic, INJECTED[:2], INJECTED[2:], weight="requests", model=SCORE_MODEL)
    keys = ["group", "subject", "version"]
    mine, theirs = (r.to_frame().set_index(keys).sort_index() for r in (report.drift, direct))
    cols = ["psi", "ks", "js", "p_value", "severity"]
    pd.testing.assert_frame_equal(mine[cols], theirs[cols], check_exact=False, rtol=1e-9)
    assert report.drift.verdict == "major"
    major = set(report.features.loc[report.features["severity"] == "major", "subject"])
    assert major >= TOUCHED_MAJOR
    headline = read_record(tmp_path / "record.json")["headline"]
    is_score = theirs.index.get_level_values("group").str.startswith("scores of ")
    features = theirs[~is_score]
    assert len(features) == 38 + 12  # ip features and request columns
    assert headline == {
        "features_checked": len(features),
        "minor": int((features["severity"] == "minor").sum()),
        "major": int((features["severity"] == "major").sum()),
        "score_psi": pytest.approx(theirs.loc[is_score, "psi"].max(), abs=1e-6),
        "verdict": "major",
    }
    context = read_record(tmp_path / "record.json")["context"]
    assert (
        context["data_first"].startswith("2026-11-01") and context["model_version"] == SCORE_MODEL
    )
    assert context["data_last"].startswith("2026-11-03")
    # performance and calibration are those of the monitor functions, with ground truth
    expected = performance_over_time(traffic, DAY1, DAY4, SCORE_MODEL, truth="ground_truth",
                                     bucket="day")  # fmt: skip
    pd.testing.assert_frame_equal(report.performance.reset_index(drop=True), expected)
    assert report.performance["labelled"].sum() > 0
    assert set(report.calibration.results["version"]) == {"v1", "v2"}
    # kept for trends: this run's rows are in the monitoring table and in the trend
    kept = monitoring_history(traffic, kind="drift", metric="psi")
    assert (kept["RunID"] == report.drift.run_id).sum() == len(report.drift.results)
    assert report.written >= 4 * len(report.drift.results)
    assert report.drift.run_id in set(report.history["RunID"])
    figures = [report.psi_figure(), report.histogram_figure(), report.score_figure(),
               report.performance_figure(), report.calibration_figure(), report.trend_figure()]  # fmt: skip
    assert all(isinstance(f, go.Figure) for f in figures)
    psi_bars = figures[0].data[0]
    assert len(psi_bars.x) == 50 and max(psi_bars.x) == pytest.approx(features["psi"].max())
    tables = [report.summary_table(), report.drift_table(), report.score_table(),
              report.performance_table(), report.calibration_table(), report.trend_table()]  # fmt: skip
    assert all(isinstance(t, SafeHTML) for t in tables)
    assert "major" in str(tables[0]) and "burst_share" in str(tables[1])


def test_the_same_distribution_raises_no_alarm(traffic, monkeypatch, tmp_path):
    monkeypatch.setenv(RECORD_ENV, str(tmp_path / "record.json"))
    report = monitor_report(**_windows(QUIET), weight="requests", write=False, store=traffic)
    headline = read_record(tmp_path / "record.json")["headline"]
    assert headline["verdict"] != "major" and headline["major"] == 0
    assert headline["minor"] <= 1, report.drift.flagged().to_string()
    assert headline["score_psi"] is None and report.scores.empty
    assert "no model was given" in str(report.score_figure())
    assert report.written == 0 and report.performance is None
    counts = report.counts.set_index("window")
    assert counts.loc["reference", "rows"] == report.drift.results.set_index("group").loc[
        "requests", "n_reference"].iloc[0]  # fmt: skip
    large = report.features[report.features["psi"] > 0.1]  # on few effective draws: noise
    assert (large["p_value"] > 0.01).all(), large.to_string()


def test_bad_parameters_are_clear_errors(traffic):
    with pytest.raises(InputError, match="reference start .* must be before"):
        monitor_report(DAY2, DAY1, DAY2, DAY3, store=traffic)
    with pytest.raises(InputError, match="is not a time"):
        monitor_report("yesterday", DAY2, DAY2, DAY3, store=traffic)
    with pytest.raises(InputError, match="truth must be one of"):
        monitor_report(*QUIET, truth="oracle", store=traffic)
    with pytest.raises(InputError, match="top must be between"):
        monitor_report(*QUIET, top=0, store=traffic)
    with pytest.raises(InputError, match="unknown entity"):
        monitor_report(*QUIET, entity="ClientIP'--", store=traffic)
    with pytest.raises(InputError, match="score_windows needs a model folder"):
        monitor_report(*QUIET, model=SCORE_MODEL, score_windows=True, store=traffic)
    with pytest.raises(InputError, match="model folder .* does not exist"):
        monitor_report(*QUIET, model="/no/such/model", store=traffic)
    with pytest.raises(InputError, match=r"the current window .* has no rows"):
        monitor_report(DAY1, DAY2, DAY4, DAY4 + dt.timedelta(days=1), store=traffic)


@pytest.mark.slow
def test_the_template_runs_end_to_end(chdb_server, tmp_path):
    database = fresh_database()
    admin = ServerStore(chdb_server.url, password=SERVER_PASSWORD, user=SERVER_USER, retries=1)
    admin.command(f"CREATE DATABASE {database}")
    admin.close()
    url = f"{chdb_server.url}/{database}"
    store = ServerStore(url, password=SERVER_PASSWORD, user=SERVER_USER, retries=2)
    try:
        apply_schema(store)
        _load(store, requests=4_000)
    finally:
        store.close()
    env = {"WB_CLICKHOUSE_URL": url, "WB_CLICKHOUSE_USER": SERVER_USER,
           "WB_CLICKHOUSE_PASSWORD": SERVER_PASSWORD}  # fmt: skip
    params = {**{k: v.isoformat() for k, v in _windows(INJECTED).items()}, "model": SCORE_MODEL,
              "weight": "requests", "truth": "ground_truth"}  # fmt: skip
    result = run_report("monitor", params, reports_dir=tmp_path, env=env)
    assert result.ok, result.record.error
    headline = result.record.headline
    assert headline["verdict"] == "major" and headline["major"] >= len(TOUCHED_MAJOR)
    assert headline["features_checked"] == 50 and headline["score_psi"] > 0.2
    assert result.record.context["model_version"] == SCORE_MODEL
    page = result.html_path.read_text()
    assert (
        page.count("Plotly.newPlot") == 6
    )  # PSI, histograms, score, performance, calibration, trend
    assert "No performance over time" not in page and "No calibration drift" not in page
