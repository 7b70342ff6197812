"""Drift on synthetic traffic: same-distribution windows stay quiet, a changed campaign is flagged.

Three days of traffic (embedded store; `test_backends.py` runs the same report on both):

* day 1 (reference) and day 2 are generated with different seeds and the same mix. The mix
  holds humans, verified crawlers and scrapers: human and crawler campaigns have the same
  parameters under every seed, and the six scraper clients weigh little, so the two days are
  draws of one distribution (families whose campaigns are re-drawn per seed, such as
  rotating proxies, would make two seeds genuinely different populations);
* day 3 is day 2 again, except that its largest scraper campaign changed behaviour: ten
  times the requests, a Python user agent and an API price path, the rest untouched.

So day 2 against day 1 is the no-drift case and day 3 against day 1 differs from it only
by the injected change.
"""

from __future__ import annotations

import datetime as dt

import pytest

from workbench.errors import InputError
from workbench.monitor import DriftReport, drift_report, monitoring_history, trend, write_monitoring
from workbench.synth import write_traffic

DAY1 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
DAY2, DAY3, DAY4 = (DAY1 + dt.timedelta(days=k) for k in (1, 2, 3))
MIX = {"human": 0.85, "crawler": 0.08, "scraper": 0.07}
REQUESTS = 40_000
WINDOW = {"start": "{start:DateTime64(3, 'UTC')}", "end": "{end:DateTime64(3, 'UTC')}"}
IN_DAY2 = f"EdgeStartTimestamp >= {WINDOW['start']} AND EdgeStartTimestamp < {WINDOW['end']}"
SCORE_MODEL = "bot-test"


def _copy_day2_with_injection(store, campaign: str) -> None:
    shift = (
        "EdgeStartTimestamp + toIntervalDay(1) AS EdgeStartTimestamp, "
        "EdgeEndTimestamp + toIntervalDay(1) AS EdgeEndTimestamp"
    )
    params = {"start": DAY2, "end": DAY3, "campaign": campaign}
    store.command(
        # (a subquery, so the WHERE clause sees the stored times and not the shifted ones)
        f"INSERT INTO http_requests SELECT * REPLACE (concat(RayID, '-d3') AS RayID, {shift}) "
        f"FROM (SELECT * FROM http_requests WHERE {IN_DAY2} AND campaign != {{campaign:String}})",
        params,
    )
    # the campaign: every request ten times, 50 ms apart, from a script, to an API path
    path = "concat('/api/v2/prices/', toString(cityHash64(RayID, k) % 20000))"
    store.command(
        "INSERT INTO http_requests SELECT * REPLACE ("
        "concat(RayID, '-d3-', toString(k)) AS RayID, "
        "EdgeStartTimestamp + toIntervalDay(1) + toIntervalMillisecond(50 * k) "
        "AS EdgeStartTimestamp, "
        "EdgeEndTimestamp + toIntervalDay(1) + toIntervalMillisecond(50 * k) AS EdgeEndTimestamp, "
        "{ua:String} AS ClientRequestUserAgent, "
        f"{path} AS ClientRequestPath, '' AS ClientRequestQuery, {path} AS ClientRequestURI) "
        f"FROM (SELECT * FROM http_requests WHERE {IN_DAY2} AND campaign = {{campaign:String}}) "
        "ARRAY JOIN range(10) AS k",
        {**params, "ua": "python-requests/2.32.3"},
    )


def _score(store) -> None:
    """Scores of a fixed model: automated traffic low, humans high, the same rule every day.

    ``bot-test v1`` keeps its behaviour; ``bot-test v2`` loses confidence on day 2 (its
    probabilities are squashed toward 0.5), a model change that score drift must catch.
    """
    noise = "(cityHash64(RayID) % 10000) / 10000"
    p = f"if(label = 'human', 0.35 * {noise}, 0.55 + 0.45 * {noise})"
    squashed = f"if(EdgeStartTimestamp >= {{day2:DateTime64(3, 'UTC')}}, 0.35 + 0.3 * ({p}), {p})"
    for version, prob in (("v1", p), ("v2", squashed)):
        store.command(
            "INSERT INTO scores (RayID, EntityType, Entity, EventTime, Model, Version, ScoreKind, "
            "Probability, Score) "
            f"SELECT RayID, 'request', ClientIP, EdgeStartTimestamp, {{model:String}}, "
            f"{{version:String}}, 'bot', {prob} AS p, toUInt8(1 + round(98 * (1 - p))) "
            "FROM http_requests",
            {"model": SCORE_MODEL, "version": version, "day2": DAY2},
        )


@pytest.fixture(scope="module")
def traffic(embedded_store):
    """The three days (embedded store: the statistics are the point here; the queries run on
    both backends in ``test_backends.py``)."""
    store = embedded_store
    write_traffic(store, REQUESTS, days=1, seed=101, start=DAY1, mix=MIX, progress=False)
    write_traffic(store, REQUESTS, days=1, seed=202, start=DAY2, mix=MIX, progress=False)
    campaign = store.query_df(
        "SELECT campaign FROM http_requests WHERE actor = 'scraper' AND "
        f"{IN_DAY2} GROUP BY campaign ORDER BY count() DESC, campaign LIMIT 1",
        {"start": DAY2, "end": DAY3},
    )["campaign"].iloc[0]
    _copy_day2_with_injection(store, campaign)
    _score(store)
    return store


@pytest.fixture(scope="module")
def reports(traffic):
    """Day 2 (same distribution) and day 3 (injected change) against day 1, both weightings."""
    out = {}
    for name, current in (("quiet", (DAY2, DAY3)), ("injected", (DAY3, DAY4))):
        for weight in ("entities", "requests"):
            out[name, weight] = drift_report(
                traffic, (DAY1, DAY2), current, weight=weight, model=SCORE_MODEL, version="v1"
            )
    return out


def test_same_distribution_raises_no_alarm(reports):
    for weight in ("entities", "requests"):
        report = reports["quiet", weight]
        assert report.verdict != "major", report.flagged().to_string()
        assert len(report.flagged("minor")) <= 1, report.flagged().to_string()
        groups = set(report.results["group"])
        assert groups == {"ip features", "requests", f"scores of {SCORE_MODEL} v1"}
        assert len(report.results) == 38 + 12 + 1
        # a large PSI on few effective draws is sampling noise, and judged so
        large = report.results[report.results["psi"] > 0.1]
        assert (large["p_value"] > 0.01).all(), large.to_string()


#: What the injected change touches directly: volume and timing (ten times the requests,
#: 50 ms apart), paths (an API path without query string) and the user agent.
TOUCHED_MAJOR = {"requests", "burst_share", "interarrival_mean_s", "distinct_paths",
                 "path_entropy_bits", "query_share"}  # fmt: skip
TOUCHED_UA = {"bot_ua_share", "browser_ua_share", "ua_family"}


def test_an_injected_campaign_change_is_flagged(reports):
    report, quiet = reports["injected", "requests"], reports["quiet", "requests"]
    assert report.verdict == "major"
    major = set(report.flagged("major")["subject"])
    flagged = set(report.flagged("minor")["subject"])
    assert TOUCHED_MAJOR <= major, report.flagged().to_string()
    assert TOUCHED_UA <= flagged, report.flagged().to_string()
    before = quiet.results.set_index("subject")["psi"]
    after = report.results.set_index("subject")["psi"]
    for name in TOUCHED_MAJOR | TOUCHED_UA:
        assert after[name] > (0.2 if name in TOUCHED_MAJOR else 0.15), name
        assert before[name] < 0.1, name
    assert not set(quiet.flagged("minor")["subject"]) & (TOUCHED_MAJOR | TOUCHED_UA)


def test_one_changed_client_moves_traffic_not_the_client_population(reports):
    """Weighing entities once, one scraper among hundreds of clients is no population shift;
    the request columns (a fifth of the traffic now has a Python user agent) still see it."""
    report = reports["injected", "entities"]
    flagged = report.flagged("minor")
    assert set(flagged["group"]) == {"requests"}, flagged.to_string()
    assert "ua_family" in set(report.flagged("major")["subject"])


def test_score_drift_is_per_model_version(traffic, tmp_path):
    report = drift_report(traffic, (DAY1, DAY2), (DAY2, DAY3), entity=None, requests=False,
                          model=SCORE_MODEL)  # fmt: skip
    by_version = report.results.set_index("version")
    assert set(by_version.index) == {"v1", "v2"}
    assert by_version.loc["v1", "severity"] == "none"
    assert by_version.loc["v2", "severity"] == "major"
    assert by_version.loc["v2", "ks_method"] == "exact"
    assert (report.results["model"] == SCORE_MODEL).all()
    # a model version with scores in one window only is noted, not compared
    traffic.command(
        "INSERT INTO scores (RayID, Entity, EventTime, Model, Version, Probability, Score) "
        "SELECT toString(number), 'x', {t:DateTime64(3, 'UTC')}, 'canary', '<b>0</b>', 0.5, 50 "
        "FROM numbers(20)",
        {"t": DAY2 + dt.timedelta(hours=1)},
    )
    both = drift_report(traffic, (DAY1, DAY2), (DAY2, DAY3), entity=None, requests=False)
    assert set(both.results["model"]) == {SCORE_MODEL}
    note = "model canary version <b>0</b> has scores only in the current window"
    assert any(note in n for n in both.notes)
    assert "&lt;b&gt;0&lt;/b&gt;" in both._repr_html_() and "<b>0</b>" not in both._repr_html_()
    page = both.save_html(tmp_path / "drift.html").read_text()
    assert page.startswith("<!doctype html>") and "<b>0</b>" not in page
    with pytest.raises(InputError, match="nothing to compare: model canary version <b>0</b> has"):
        drift_report(traffic, (DAY1, DAY2), (DAY2, DAY3), entity=None, requests=False,
                     model="canary")  # fmt: skip


def test_report_renders_and_is_kept_for_trends(traffic):
    report = drift_report(traffic, (DAY1, DAY2), (DAY3, DAY4), entity="ClientIP",
                          features=["requests", "burst_share", "distinct_paths"],
                          weight="requests", requests=False, scores=False)  # fmt: skip
    assert isinstance(report, DriftReport) and report.entity == "ip"
    assert list(report.results["subject"]) == ["requests", "burst_share", "distinct_paths"]
    html = report._repr_html_()
    assert "severity-major" in html and "burst_share" in html
    assert report.summary().startswith("drift major")
    first = write_monitoring(traffic, report)
    assert first == 3 * 4
    again = drift_report(traffic, (DAY1, DAY2), (DAY2, DAY3), entity="ip",
                         features=["requests", "burst_share", "distinct_paths"],
                         weight="requests", requests=False, scores=False)  # fmt: skip
    write_monitoring(traffic, again)
    history = monitoring_history(traffic, kind="drift", metric="psi",
                                 subjects=["burst_share"])  # fmt: skip
    mine = history[history["RunID"].isin([report.run_id, again.run_id])]
    assert len(mine) == 2 and set(mine["Severity"]) == {"major", "none"}
    stored = mine.set_index("RunID").loc[report.run_id]
    assert stored["Value"] == pytest.approx(
        report.results.set_index("subject").loc["burst_share", "psi"]
    )
    assert stored["CurrentStart"] == DAY3
    rows = trend(mine, last=3)
    assert len(rows) == 1 and rows["Severity"].iloc[0] == "none"
    assert rows["t-0"].iloc[0] < rows["t-1"].iloc[0] and list(rows.columns[-2:]) == [
        "change",
        "Severity",
    ]


def test_bad_windows_and_options_are_clear_errors(traffic):
    with pytest.raises(InputError, match="reference start .* must be before"):
        drift_report(traffic, (DAY2, DAY1), (DAY2, DAY3))
    with pytest.raises(InputError, match="is not a time"):
        drift_report(traffic, ("yesterday", DAY2), (DAY2, DAY3))
    with pytest.raises(InputError, match=r"\(start, end\) pair"):
        drift_report(traffic, DAY1, (DAY2, DAY3))
    with pytest.raises(InputError, match="weight must be one of"):
        drift_report(traffic, (DAY1, DAY2), (DAY2, DAY3), weight="bytes")
    with pytest.raises(InputError, match="unknown entity"):
        drift_report(traffic, (DAY1, DAY2), (DAY2, DAY3), entity="ClientIP'--")
    with pytest.raises(InputError, match="has no rows"):
        drift_report(traffic, (DAY1, DAY2), (DAY4, DAY4 + dt.timedelta(days=1)), scores=False)
