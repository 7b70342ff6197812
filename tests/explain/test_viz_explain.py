"""Plotly renderers of explanations and the request-text heat map: drawn, and escaped."""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
import shap

from workbench.viz import SafeHTML, char_heatmap, importance_bar, waterfall
from workbench.viz.html import visible

HOSTILE = '<script>alert("x")</script> \'" onmouseover=alert(1) &amp; \u202egnp.exe'


class _Spans(HTMLParser):
    """Collect the text of each span inside the heat map, and every tag seen."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.spans: list[str] = []
        self._in_map = 0
        self._in_span = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "div" and ("class", "wb-heatmap") in attrs:
            self._in_map = 1
        elif tag == "span" and self._in_map == 1:
            self._in_span = True
            self.spans.append("")

    def handle_endtag(self, tag):
        if tag == "span":
            self._in_span = False
        elif tag == "div" and self._in_map:
            self._in_map = 2

    def handle_data(self, data):
        if self._in_span and self._in_map == 1:
            self.spans[-1] += data


def _row(chars: list[str], values) -> shap.Explanation:
    return shap.Explanation(
        values=np.asarray(values, dtype=float), base_values=0.5, data=np.array(chars, dtype=object)
    )


def test_heatmap_escapes_every_character() -> None:
    chars = list(HOSTILE)
    values = np.linspace(-1, 1, len(chars))
    html = char_heatmap(_row(chars, values), title="<b>request</b>")
    assert isinstance(html, SafeHTML)
    markup = str(html)
    assert "<script" not in markup and '"x"' not in markup
    parser = _Spans()
    parser.feed(markup)
    assert set(parser.tags) <= {"div", "span"}  # nothing from the text became a tag
    # one span per character, and reading the spans back gives the (visible) text
    assert len(parser.spans) == len(chars)
    assert "".join(parser.spans) == visible(HOSTILE)
    assert "\\u202e" in markup and "\u202e" not in markup  # the bidi override is shown, inert
    assert "&lt;b&gt;request&lt;/b&gt;" in markup
    assert markup.count('title="') == len(chars)
    # towards bad is red, towards good blue; the strongest values are the most opaque
    assert "rgba(198,40,40,0.850)" in markup and "rgba(21,101,192,0.850)" in markup


def test_heatmap_limits_and_checks() -> None:
    html = str(char_heatmap(_row(list("abcdef"), [0, 1, 0, 0, 0, 0]), max_chars=3))
    assert "3 more" in html
    with pytest.raises(ValueError, match="characters"):
        char_heatmap(_row(list("ab"), [1.0]))


def test_importance_bar_escapes_names_and_folds_the_tail() -> None:
    frame = pd.DataFrame(
        {
            "feature": ["<b>bold</b>", "asset_share", "noise"],
            "mean_abs_shap": [3.0, 2.0, 0.5],
            "mean_shap": [1.0, -1.0, 0.1],
        }
    )
    fig = importance_bar(frame, max_features=2)
    assert isinstance(fig, go.Figure)
    bar = fig.data[0]
    assert list(bar.y) == ["&lt;b&gt;bold&lt;/b&gt;", "asset_share", "1 other features"]
    assert list(bar.x) == [3.0, 2.0, 0.5]
    exp = shap.Explanation(
        values=np.array([[1.0, -2.0], [3.0, 0.0]]), feature_names=["a", "b"], base_values=0.0
    )
    fig = importance_bar(exp)
    assert list(fig.data[0].y) == ["a", "b"] and list(fig.data[0].x) == [2.0, 1.0]


def test_waterfall_goes_from_base_to_output() -> None:
    row = shap.Explanation(
        values=np.array([0.5, -2.0, 0.25, 1.0]),
        base_values=-1.0,
        data=np.array([1, 2, 3, 4]),
        feature_names=["<i>x</i>", "b", "c", "d"],
    )
    fig = waterfall(row, max_display=2)
    trace = fig.data[0]
    assert trace.measure[0] == "absolute" and trace.measure[-1] == "total"
    assert trace.x[0] == -1.0 and trace.x[-1] == pytest.approx(-1.0 + 0.5 - 2.0 + 0.25 + 1.0)
    assert trace.y[1] == "b = 2" and trace.y[2] == "d = 4"
    assert trace.y[3] == "2 other features" and trace.x[3] == pytest.approx(0.75)
    full = waterfall(row, max_display=10)
    assert "&lt;i&gt;x&lt;/i&gt; = 1" in full.data[0].y
    with pytest.raises(ValueError, match="one row"):
        waterfall(shap.Explanation(values=np.zeros((2, 2)), base_values=np.zeros(2)))
