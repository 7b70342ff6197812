"""Plotly figures: data strings escaped for plotly's markup, embedding safe inside <script>."""

from __future__ import annotations

import json
import re

import pandas as pd
import plotly.graph_objects as go
import pytest

from workbench.viz import (
    figure_html,
    plot_label,
    plotly_js,
    plotly_script_tag,
    score_histogram,
    script_json,
    share_bar,
    status_mix,
    top_bar,
    volume_timeseries,
)

UA = '"><script>alert(1)</script>'
PATH = "/<img src=x onerror=alert(1)>"
LINK = '<a href="http://evil.example/">click</a>'


def all_strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from all_strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from all_strings(v)


def data_strings(fig: go.Figure) -> list[str]:
    spec = fig.to_plotly_json()
    return list(all_strings(spec["data"])) + list(all_strings(spec["layout"].get("title", {})))


def test_plot_label_escapes_plotly_markup():
    assert plot_label(LINK) == '&lt;a href="http://evil.example/"&gt;click&lt;/a&gt;'
    assert plot_label("a&b") == "a&amp;b"
    assert plot_label("x" * 100, 10) == "x" * 9 + "\u2026"
    assert plot_label("\u202eevil") == "\\u202eevil"
    assert plot_label(None) == ""


def test_top_bar_labels_are_escaped_ranked_and_distinct():
    long_a = "Mozilla/5.0 " + "A" * 80 + "<b>one</b>"
    long_b = "Mozilla/5.0 " + "A" * 80 + "<b>two</b>"
    frame = pd.DataFrame(
        {"entity": [UA, PATH, LINK, long_a, long_b], "requests": [50, 40, 30, 20, 10]}
    )
    fig = top_bar(frame, title="Top <i>UAs</i>")
    labels = list(fig.data[0].y)
    assert len(set(labels)) == 5  # same prefix, still two bars
    assert labels[0].startswith("1. ")
    for text in data_strings(fig):
        stripped = re.sub(r"<br>|<extra>|</extra>", "", text)
        assert "<" not in stripped, text  # only our own hover markup
    assert fig.layout.title.text == "Top &lt;i&gt;UAs&lt;/i&gt;"
    assert list(fig.data[0].customdata)[1] == "/&lt;img src=x onerror=alert(1)&gt;"


def test_share_bar_keeps_values_apart():
    frame = pd.DataFrame({"country": ["US", "", "<x>", "US"], "requests": [4, 3, 2, 1]})
    fig = share_bar(frame, label="country", title="Countries")
    assert list(fig.data[0].x) == ["US", "(empty)", "&lt;x&gt;", "US #2"]


def test_volume_timeseries_needs_datetimes_and_columns():
    times = pd.date_range("2026-11-01", periods=3, freq="5min", tz="UTC")
    frame = pd.DataFrame({"bucket": times, "status_2xx": [1, 2, 3], "status_3xx": 0,
                          "status_4xx": [0, 1, 0], "status_5xx": 0})  # fmt: skip
    fig = volume_timeseries(frame)
    assert [t.name for t in fig.data] == ["2xx", "3xx", "4xx", "5xx"]
    spec = json.loads(fig.to_json())
    assert spec["data"][0]["x"][0].startswith("2026-11-01T00:00:00")
    with pytest.raises(ValueError, match="must hold datetimes"):
        volume_timeseries(frame.assign(bucket=[1793491200, 1793491500, 1793491800]))
    with pytest.raises(ValueError, match="status_5xx"):
        volume_timeseries(frame.drop(columns=["status_5xx"]))


def test_status_mix_and_score_histogram():
    statuses = pd.DataFrame({"status": [200, 404, 503, 301], "status_class": ["2xx", "4xx", "5xx", "3xx"],
                             "requests": [10, 3, 1, 2]})  # fmt: skip
    fig = status_mix(statuses)
    assert sorted(t.name for t in fig.data) == ["2xx", "3xx", "4xx", "5xx"]
    scores = pd.DataFrame(
        {"score_low": [0, 1, 10, 30], "score_high": [0, 9, 19, 39], "requests": [5, 4, 3, 2]}
    )
    hist = score_histogram(scores)
    assert list(hist.data[0].x) == ["unscored", "1\u20139", "10\u201319", "30\u201339"]
    assert list(hist.data[0].marker.color) == ["#9e9e9e", "#c62828", "#c62828", "#2e7d32"]


def test_script_json_cannot_close_the_script():
    text = script_json({"x": ["</script><script>alert(1)</script>", "a&b", "\u2028"]})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text)["x"][0] == "</script><script>alert(1)</script>"


def test_figure_html_embeds_hostile_data_inertly():
    fig = top_bar(
        pd.DataFrame({"entity": [UA, "</script><img src=x onerror=alert(1)>"], "requests": [2, 1]})
    )
    markup = figure_html(fig, div_id="fig-1", nonce="abcdefgh12345678")
    assert markup.startswith('<div id="fig-1" class="wb-figure"')
    script = markup.split("<script", 1)[1]
    assert script.count("</script>") == 1 and script.endswith("</script>")
    assert "<img" not in markup and "<script>alert" not in markup
    assert 'nonce="abcdefgh12345678"' in markup
    as_dict = figure_html(fig.to_plotly_json(), div_id="fig-2")
    assert "Plotly.newPlot" in as_dict


@pytest.mark.parametrize("kwargs", [{"div_id": 'x" onload="alert(1)'}, {"nonce": "bad nonce!"}])
def test_figure_html_refuses_unsafe_ids(kwargs):
    with pytest.raises(ValueError, match="invalid"):
        figure_html(go.Figure(), **kwargs)


def test_plotly_js_is_the_local_bundle():
    js = plotly_js()
    assert len(js) > 1_000_000 and "</script" not in js
    tag = plotly_script_tag("abcdefgh12345678")
    assert tag.startswith('<script nonce="abcdefgh12345678"') and "src=" not in tag[:80]
