"""Safe HTML fragments: hostile strings never become markup."""

from __future__ import annotations

import datetime as dt
import html
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.viz import (
    SafeHTML,
    concat,
    escape,
    format_value,
    heading,
    html_table,
    key_value_table,
    paragraph,
    truncate,
    visible,
)

HOSTILE = [
    '"><script>alert(1)</script>',
    "<img src=x onerror=window.__xss=1>",
    "' onmouseover='alert(1)",
    "</td></tr></table><iframe src=javascript:alert(1)>",
    "&lt;already-escaped&gt;",
]


class _Collector(HTMLParser):
    """Collects tags, attributes and text of a fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_data(self, data):
        self.text.append(data)


def parse(fragment: SafeHTML) -> _Collector:
    collector = _Collector()
    collector.feed(fragment.markup)
    collector.close()
    return collector


TABLE_TAGS = {"table", "thead", "tbody", "tr", "th", "td", "caption", "p"}


@pytest.mark.parametrize("payload", HOSTILE)
def test_table_escapes_cells_headers_and_titles(payload):
    frame = pd.DataFrame({payload: [payload, payload * 5], "n": [1, 2]})
    parsed = parse(html_table(frame, max_chars=40, caption=payload))
    assert set(parsed.tags) <= TABLE_TAGS
    assert {name for name, _ in parsed.attrs} <= {"class", "title"}
    assert payload in "".join(parsed.text)  # shown to the reader, literally
    titles = [value for name, value in parsed.attrs if name == "title"]
    # long values are shortened in the cell and whole in its (escaped) title
    assert titles == [v for v in (payload, payload * 5) if len(v) > 40]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=60), min_size=1, max_size=5))
def test_any_text_stays_text(values):
    frame = pd.DataFrame({"value": values})
    parsed = parse(html_table(frame, max_chars=1000))
    assert set(parsed.tags) <= TABLE_TAGS
    shown = "".join(parsed.text)
    for value in values:
        assert visible(value) in shown


def test_controls_and_bidi_are_made_visible():
    assert visible("a\x1b[31mb\u202ec\x00") == "a\\x1b[31mb\\u202ec\\x00"
    assert visible("tab\tstays") == "tab\tstays"
    assert escape("\u202e<b>") == "\\u202e&lt;b&gt;"


def test_format_value_kinds():
    assert format_value(1234567) == "1,234,567"
    assert format_value(np.int64(42)) == "42"
    assert format_value(0.123456) == "0.1235"
    assert format_value(float("nan")) == ""
    assert format_value(None) == ""
    assert format_value(True) == "true"
    assert format_value(pd.Timestamp("2026-11-01 06:00", tz="UTC")) == "2026-11-01 06:00:00"
    assert format_value(dt.datetime(2026, 11, 1, 6, 0, 0, 123000)) == "2026-11-01 06:00:00.123"
    assert format_value(pd.NaT) == ""
    assert format_value(["GET", "POST"]) == "GET, POST"
    assert format_value(b"\xff<") == "\\xff<"


def test_truncate_and_rows_limit():
    assert truncate("abcdef", 4) == "abc\u2026"
    assert truncate("abc", 4) == "abc"
    with pytest.raises(ValueError, match="at least 2"):
        truncate("abc", 1)
    table = html_table(pd.DataFrame({"x": range(10)}), max_rows=3)
    assert table.markup.count("<tr>") == 4  # header + 3 rows
    assert "7 more rows not shown" in table.markup
    assert "No rows" in html_table(pd.DataFrame({"x": []})).markup


def test_table_rejects_non_frames_and_negative_rows():
    with pytest.raises(ValueError, match="DataFrame"):
        html_table([1, 2])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_rows"):
        html_table(pd.DataFrame({"x": [1]}), max_rows=-1)


def test_key_value_heading_paragraph_concat():
    kv = parse(key_value_table({HOSTILE[0]: HOSTILE[1]}))
    assert set(kv.tags) <= TABLE_TAGS
    assert HOSTILE[1] in "".join(kv.text)
    assert heading(HOSTILE[0], 2).markup == f"<h2>{html.escape(HOSTILE[0])}</h2>"
    with pytest.raises(ValueError, match="level"):
        heading("x", 7)
    assert paragraph("<b>", "wb-note").markup == '<p class="wb-note">&lt;b&gt;</p>'
    with pytest.raises(ValueError, match="CSS class"):
        paragraph("x", 'a" onclick="x')
    both = concat(heading("a"), paragraph("b"))
    assert both.markup == "<h3>a</h3><p>b</p>"
    with pytest.raises(TypeError, match="SafeHTML"):
        concat(heading("a"), "<b>raw</b>")  # type: ignore[arg-type]
    assert both._repr_html_() == both.markup
    assert escape(both) == both.markup  # already safe: not escaped twice
