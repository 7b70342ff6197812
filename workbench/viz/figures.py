"""Plotly figures for traffic reports, with every data string escaped for plotly's text markup.

Plotly reads a small HTML-like markup in titles, tick labels, hover text and annotations
(``<b>``, ``<br>``, ``<a href=...>``), so an attacker's user agent such as
``<a href="http://evil">`` would become a link. Every label that comes from data passes through
:func:`plot_label` (control characters made visible, ``&``, ``<`` and ``>`` turned into
entities, which plotly shows as the characters themselves) before it reaches a figure.

The figures draw with SVG only (no WebGL and no map tiles), so a report opens offline.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

from workbench.viz.html import format_value, truncate, visible

#: Colours of the HTTP status classes, the same in every figure.
STATUS_COLORS = {
    "1xx": "#9e9e9e",
    "2xx": "#2e7d32",
    "3xx": "#1565c0",
    "4xx": "#ef6c00",
    "5xx": "#c62828",
}
TEMPLATE = "plotly_white"
_AUTOMATED = 30  # bot score below this: likely automated (Cloudflare's convention)


def plot_label(value: object, max_chars: int | None = 60) -> str:
    """Return ``value`` as text that plotly shows literally.

    Parameters
    ----------
    value : object
        A label from data (a user agent, a path, an IP ...).
    max_chars : int or None, default 60
        Shorten to this many characters (before escaping); ``None`` keeps it whole.

    Returns
    -------
    str
        The escaped label.
    """
    text = visible(format_value(value))
    if max_chars is not None:
        text = truncate(text, max_chars)
    return html.escape(text, quote=False)


def titled_layout(fig: go.Figure, title: str, height: int = 380) -> go.Figure:
    """Give a figure the reports' layout: title on the left, legend on top, slim margins.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure
        Changed in place.
    title : str
        The title (shown as text, never as markup).
    height : int, default 380
        Pixels.

    Returns
    -------
    plotly.graph_objects.Figure
        ``fig``.
    """
    fig.update_layout(
        title={"text": plot_label(title, None), "x": 0.0, "xanchor": "left"},
        template=TEMPLATE,
        height=height,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
    )
    return fig


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{what} needs a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what} needs column(s) {', '.join(missing)}; the frame has {', '.join(map(str, frame.columns))}"
        )


def volume_timeseries(
    buckets: pd.DataFrame,
    *,
    time_column: str = "bucket",
    series: Sequence[str] = ("status_2xx", "status_3xx", "status_4xx", "status_5xx"),
    title: str = "Requests over time",
) -> go.Figure:
    """Draw the request volume per time bucket, stacked, one band per series.

    Parameters
    ----------
    buckets : pandas.DataFrame
        One row per bucket (the ``request_buckets`` named query's shape).
    time_column : str, default "bucket"
        The bucket start column.
    series : sequence of str
        Count columns to stack; ``status_4xx`` style names get the status colours.
    title : str
        Figure title.

    Returns
    -------
    plotly.graph_objects.Figure
        The figure.
    """
    _require(buckets, [time_column, *series], "volume_timeseries")
    times = buckets[time_column]
    if not pd.api.types.is_datetime64_any_dtype(times):
        raise ValueError(
            f"volume_timeseries: column {time_column!r} must hold datetimes, not {times.dtype}"
        )
    fig = go.Figure()
    for column in series:
        status = column.rsplit("_", 1)[-1]
        fig.add_trace(
            go.Scatter(
                x=times,
                y=buckets[column],
                name=plot_label(status if status in STATUS_COLORS else column),
                mode="lines",
                stackgroup="requests",
                line={"width": 0.5, "color": STATUS_COLORS.get(status)},
                hovertemplate="%{x|%Y-%m-%d %H:%M} UTC<br>%{y:,} requests<extra>%{fullData.name}</extra>",
            )
        )
    fig.update_xaxes(title_text="time (UTC)")
    fig.update_yaxes(title_text="requests")
    return titled_layout(fig, title, 360)


def top_bar(
    frame: pd.DataFrame,
    *,
    label: str = "entity",
    value: str = "requests",
    title: str = "Top entities",
    max_chars: int = 60,
    color: str = "#455a64",
) -> go.Figure:
    """Draw horizontal bars of the top rows, largest on top, labels ranked and escaped.

    Each bar's label is ``"<rank>. <label>"`` shortened to ``max_chars``, so two long values
    with the same beginning stay two bars; the hover shows the full (escaped) value.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows in rank order (for example from the ``top_entities`` named query).
    label : str, default "entity"
        Column with the names.
    value : str, default "requests"
        Column with the sizes.
    title : str
        Figure title.
    max_chars : int, default 60
        Longest label shown on the axis.
    color : str
        Bar colour.

    Returns
    -------
    plotly.graph_objects.Figure
        The figure.
    """
    _require(frame, [label, value], "top_bar")
    names = [
        f"{rank}. {plot_label(v, max_chars)}" for rank, v in enumerate(frame[label].tolist(), 1)
    ]
    full = [plot_label(v, 300) for v in frame[label].tolist()]
    fig = go.Figure(
        go.Bar(
            x=frame[value].tolist(),
            y=names,
            orientation="h",
            marker_color=color,
            customdata=full,
            hovertemplate="%{customdata}<br>%{x:,} " + plot_label(value) + "<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", type="category", automargin=True)
    fig.update_xaxes(title_text=plot_label(value))
    return titled_layout(fig, title, max(220, 60 + 26 * len(names)))


def status_mix(statuses: pd.DataFrame, *, title: str = "Response status mix") -> go.Figure:
    """Draw requests per response status code, coloured by status class.

    Parameters
    ----------
    statuses : pandas.DataFrame
        Columns ``status``, ``status_class`` and ``requests`` (the ``status_breakdown`` shape).
    title : str
        Figure title.

    Returns
    -------
    plotly.graph_objects.Figure
        The figure.
    """
    _require(statuses, ["status", "status_class", "requests"], "status_mix")
    ordered = statuses.sort_values("status")
    fig = go.Figure()
    for status_class, rows in ordered.groupby("status_class", sort=True):
        fig.add_trace(
            go.Bar(
                x=[str(int(s)) for s in rows["status"]],
                y=rows["requests"].tolist(),
                name=plot_label(status_class),
                marker_color=STATUS_COLORS.get(str(status_class), "#607d8b"),
                hovertemplate="status %{x}<br>%{y:,} requests<extra></extra>",
            )
        )
    fig.update_xaxes(type="category", title_text="status", categoryorder="category ascending")
    fig.update_yaxes(title_text="requests")
    return titled_layout(fig, title, 320)


def score_histogram(
    scores: pd.DataFrame,
    *,
    low: str = "score_low",
    high: str = "score_high",
    count: str = "requests",
    title: str = "Bot score distribution",
    threshold: int = _AUTOMATED,
) -> go.Figure:
    """Draw requests per score bin, bins below ``threshold`` (likely automated) in red.

    Parameters
    ----------
    scores : pandas.DataFrame
        One row per bin with its inclusive bounds and count; a bin with ``low == 0`` holds
        unscored requests (score 0) and is drawn grey.
    low, high, count : str
        Column names.
    title : str
        Figure title.
    threshold : int, default 30
        Scores below it count as likely automated.

    Returns
    -------
    plotly.graph_objects.Figure
        The figure.
    """
    _require(scores, [low, high, count], "score_histogram")
    ordered = scores.sort_values(low)
    labels, colors = [], []
    for lo, hi in zip(ordered[low].tolist(), ordered[high].tolist(), strict=True):
        labels.append("unscored" if hi == 0 else f"{int(lo)}\u2013{int(hi)}")
        colors.append("#9e9e9e" if hi == 0 else ("#c62828" if hi < threshold else "#2e7d32"))
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=ordered[count].tolist(),
            marker_color=colors,
            hovertemplate="score %{x}<br>%{y:,} requests<extra></extra>",
        )
    )
    fig.update_xaxes(type="category", title_text="bot score (1 = automated, 99 = human)")
    fig.update_yaxes(title_text="requests")
    return titled_layout(fig, title, 320)


def share_bar(
    frame: pd.DataFrame,
    *,
    label: str,
    value: str = "requests",
    title: str,
    max_chars: int = 40,
) -> go.Figure:
    """Draw vertical bars of a breakdown (countries, methods ...), labels escaped.

    A bar chart rather than a map: plotly's maps fetch their outlines from a CDN, and a
    report must open offline.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows in display order.
    label : str
        Column with the category names.
    value : str, default "requests"
        Column with the sizes.
    title : str
        Figure title.
    max_chars : int, default 40
        Longest label shown.

    Returns
    -------
    plotly.graph_objects.Figure
        The figure.
    """
    _require(frame, [label, value], "share_bar")
    names: list[str] = []
    for v in frame[label].tolist():
        base = name = plot_label(v if v != "" else "(empty)", max_chars)
        k = 1
        while name in names:  # two values shortened alike stay two bars
            k += 1
            name = f"{base} #{k}"
        names.append(name)
    fig = go.Figure(
        go.Bar(
            x=names,
            y=frame[value].tolist(),
            marker_color="#5c6bc0",
            hovertemplate="%{x}<br>%{y:,} " + plot_label(value) + "<extra></extra>",
        )
    )
    fig.update_xaxes(type="category", title_text=plot_label(label))
    fig.update_yaxes(title_text=plot_label(value))
    return titled_layout(fig, title, 340)
