"""The traffic overview's queries and figures, on both store backends."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import plotly.graph_objects as go
import pytest

from tests.notebooks.data import HOSTILE_UAS, hostile_rows
from workbench.errors import InputError
from workbench.reporting.record import RECORD_ENV, read_record
from workbench.reporting.sections import TOP_ENTITIES, bucket_seconds_for, traffic_overview
from workbench.viz import SafeHTML

START = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def loaded(store):
    frame = hostile_rows(60)
    frame.loc[:9, "BotScore"] = 0  # unscored
    frame.loc[10:19, "BotScore"] = 95
    frame.loc[20:29, "EdgeResponseStatus"] = 503
    store.insert_df("http_requests", frame)
    return store


def test_overview_numbers_match_the_rows(loaded, monkeypatch, tmp_path):
    monkeypatch.setenv(RECORD_ENV, str(tmp_path / "record.json"))
    o = traffic_overview("2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z", limit=3, store=loaded)
    s = o.summary
    assert s["requests"] == 60 and s["distinct_ips"] == 2 and s["scored"] == 50
    assert s["likely_automated_share"] == pytest.approx(40 / 50)
    assert s["share_5xx"] == pytest.approx(10 / 60, abs=1e-6)
    assert s["share_4xx"] == pytest.approx(50 / 60, abs=1e-6)
    assert s["first_request"] == "2026-11-01T12:00:00Z"
    assert o.bucket_seconds == 300  # a day in 5-minute buckets
    assert o.buckets["requests"].sum() == 60
    assert str(o.buckets["bucket"].dt.tz) == "UTC" and o.buckets["bucket"].min() == pd.Timestamp(
        START
    )
    assert set(o.top) == set(TOP_ENTITIES) and len(o.top["ClientRequestUserAgent"]) == 3
    assert set(o.top["ClientRequestUserAgent"]["entity"]) == set(HOSTILE_UAS)
    bins = dict(zip(o.bot_scores["score_low"], o.bot_scores["requests"], strict=True))
    assert bins == {0: 10, 1: 40, 90: 10}
    assert dict(zip(o.statuses["status"], o.statuses["requests"], strict=True)) == {
        403: 50,
        503: 10,
    }
    assert o.countries["entity"].tolist() == ["<i>"]
    recorded = read_record(tmp_path / "record.json")
    assert recorded["headline"] == {"requests": 60, "distinct_ips": 2,
                                    "likely_automated_share": 0.8, "share_5xx": pytest.approx(1 / 6, abs=1e-6)}  # fmt: skip
    assert recorded["context"]["data_last"].startswith("2026-11-01T12:06")
    figures = [o.volume_figure(), o.bot_score_figure(), o.status_figure(), o.country_figure()]
    figures += [o.top_figure(c) for c in TOP_ENTITIES]
    assert all(isinstance(f, go.Figure) for f in figures)
    tables = [o.summary_table(), o.status_table()] + [o.top_table(c) for c in TOP_ENTITIES]
    assert all(isinstance(t, SafeHTML) and "<script" not in t.markup for t in tables)


def test_an_empty_window_still_renders(loaded):
    o = traffic_overview("2020-01-01T00:00:00Z", "2020-01-01T06:00:00Z", store=loaded)
    assert o.summary["requests"] == 0 and o.summary["first_request"] is None
    assert o.summary["likely_automated_share"] is None
    assert "No requests in this window" in o.summary_table().markup
    o.volume_figure(), o.top_figure("ClientIP"), o.bot_score_figure(), o.country_figure()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"start": "now", "end": "-1h"}, "must be before"), ({"limit": 0}, "limit must be between"),
     ({"bucket_seconds": -5}, "bucket_seconds"), ({"start": "yesterday"}, "is not a time")],
)  # fmt: skip
def test_bad_arguments(loaded, kwargs, message):
    with pytest.raises(InputError, match=message):
        traffic_overview(**{"start": "-1d", "end": "now", **kwargs}, store=loaded)


def test_bucket_width_follows_the_window():
    day = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert bucket_seconds_for(day, day + dt.timedelta(hours=1)) == 60
    assert bucket_seconds_for(day, day + dt.timedelta(days=1)) == 300
    assert bucket_seconds_for(day, day + dt.timedelta(days=7)) == 3600
    assert bucket_seconds_for(day, day + dt.timedelta(days=3650)) == 86400
