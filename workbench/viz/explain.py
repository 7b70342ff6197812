"""Plotly renderers of SHAP explanations, and the request-text heat map as safe HTML.

Feature names and values reach figures only through :func:`~workbench.viz.figures.plot_label`;
the heat map escapes every character of the request text on its own (an attacker writes
that text), so ``<script>`` in a path shows as the characters ``<script>``. Colours: red
pushes towards the bad class (automated, attack, anomalous), blue towards the good one.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from workbench.viz.figures import TEMPLATE, plot_label
from workbench.viz.html import SafeHTML, format_value, visible

BAD_COLOR = "#c62828"
GOOD_COLOR = "#1565c0"
_BAD_RGB = (198, 40, 40)
_GOOD_RGB = (21, 101, 192)


def _layout(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(
        title={"text": plot_label(title, None), "x": 0.0, "xanchor": "left"},
        template=TEMPLATE,
        height=height,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        showlegend=False,
    )
    return fig


def _importance_frame(importance: Any) -> pd.DataFrame:
    if isinstance(importance, pd.DataFrame):
        missing = {"feature", "mean_abs_shap"} - set(importance.columns)
        if missing:
            raise ValueError(f"importance frame lacks column(s) {sorted(missing)}")
        return importance
    from workbench.explain.tree import global_importance

    return global_importance(importance)


def importance_bar(
    importance: Any, *, max_features: int = 20, title: str = "Global feature importance"
) -> go.Figure:
    """Draw mean |SHAP| per feature as horizontal bars, most important on top.

    Parameters
    ----------
    importance : shap.Explanation or pandas.DataFrame
        A two-dimensional explanation, or :func:`workbench.explain.global_importance` output.
    max_features : int, default 20
        Bars shown; the rest are summed into one "other features" bar.
    title : str

    Returns
    -------
    plotly.graph_objects.Figure
    """
    frame = _importance_frame(importance)
    if max_features < 1:
        raise ValueError("max_features must be positive")
    top = frame.head(max_features)
    names = [plot_label(n, 60) for n in top["feature"]]
    values = top["mean_abs_shap"].astype(float).tolist()
    rest = frame["mean_abs_shap"].iloc[max_features:].astype(float).sum()
    if len(frame) > max_features:
        names.append(f"{len(frame) - max_features} other features")
        values.append(float(rest))
    colors = [
        BAD_COLOR if s > 0 else GOOD_COLOR
        for s in top.get("mean_shap", pd.Series(np.ones(len(top)))).astype(float)
    ] + (["#9e9e9e"] if len(frame) > max_features else [])
    fig = go.Figure(
        go.Bar(
            x=values,
            y=names,
            orientation="h",
            marker_color=colors,
            hovertemplate="%{y}<br>mean |SHAP| %{x:.4f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", type="category", automargin=True)
    fig.update_xaxes(title_text="mean |SHAP value|")
    return _layout(fig, title, max(240, 60 + 24 * len(names)))


def waterfall(
    explanation: Any, *, max_display: int = 12, title: str = "Why this score"
) -> go.Figure:
    """Draw one row's explanation as a waterfall from the base value to the output.

    Parameters
    ----------
    explanation : shap.Explanation
        One row: one-dimensional ``values``, scalar ``base_values`` (``explanation[i]``).
    max_display : int, default 12
        Features shown, by absolute value; the rest are summed into one step.
    title : str

    Returns
    -------
    plotly.graph_objects.Figure
        Steps labelled ``feature = value``; the last bar is the model output.
    """
    values = np.asarray(explanation.values, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"waterfall needs one row (1-D values), got shape {values.shape}")
    base = float(np.asarray(explanation.base_values, dtype=np.float64).ravel()[0])
    names = list(explanation.feature_names or [f"f{i}" for i in range(len(values))])
    data = explanation.data if explanation.data is not None else [None] * len(values)
    data = list(np.asarray(data, dtype=object).ravel())
    order = np.argsort(-np.abs(values), kind="stable")
    shown = order[:max_display]
    labels = [
        plot_label(f"{names[i]} = {format_value(data[i])}", 60)
        if data[i] is not None
        else plot_label(names[i], 60)
        for i in shown
    ]
    steps = values[shown].tolist()
    if len(order) > max_display:
        labels.append(f"{len(order) - max_display} other features")
        steps.append(float(values[order[max_display:]].sum()))
    fig = go.Figure(
        go.Waterfall(
            orientation="h",
            measure=["absolute", *["relative"] * len(steps), "total"],
            y=["base value", *labels, "output"],
            x=[base, *steps, base + float(values.sum())],
            increasing={"marker": {"color": BAD_COLOR}},
            decreasing={"marker": {"color": GOOD_COLOR}},
            totals={"marker": {"color": "#455a64"}},
            hovertemplate="%{y}<br>%{x:.4f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", type="category", automargin=True)
    return _layout(fig, title, max(260, 80 + 26 * (len(labels) + 2)))


def _rgba(value: float, scale: float) -> str:
    strength = 0.0 if scale <= 0 else min(abs(value) / scale, 1.0)
    r, g, b = _BAD_RGB if value > 0 else _GOOD_RGB
    return f"rgba({r},{g},{b},{0.85 * strength:.3f})"


def char_heatmap(explanation: Any, *, title: str | None = None, max_chars: int = 2000) -> SafeHTML:
    """Render a request text with each character shaded by its attribution.

    Parameters
    ----------
    explanation : shap.Explanation
        One text's explanation: 1-D ``values`` and ``data`` holding one character per entry
        (:func:`workbench.explain.text_row`).
    title : str, optional
        A heading above the text (escaped).
    max_chars : int, default 2000
        Characters rendered (the rest are counted).

    Returns
    -------
    SafeHTML
        A ``<div>`` where every character is its own escaped ``<span>`` with a
        background colour (red: towards bad, blue: towards good) and its value as a tooltip.
    """
    values = np.asarray(explanation.values, dtype=np.float64).ravel()
    chars = [str(c) for c in np.asarray(explanation.data, dtype=object).ravel()]
    if len(chars) != len(values):
        raise ValueError(f"{len(chars)} characters but {len(values)} values")
    scale = float(np.abs(values).max()) if len(values) else 0.0
    parts = []
    if title is not None:
        parts.append(
            f'<div class="wb-heatmap-title">{html.escape(visible(title), quote=True)}</div>'
        )
    parts.append(
        '<div class="wb-heatmap" style="font-family:monospace;white-space:pre-wrap;'
        'word-break:break-all;line-height:1.6">'
    )
    for ch, v in zip(chars[:max_chars], values[:max_chars], strict=True):
        text = html.escape(visible(ch), quote=True)
        parts.append(
            f'<span style="background:{_rgba(float(v), scale)}" title="{v:+.4f}">{text}</span>'
        )
    if len(chars) > max_chars:
        parts.append(f'<span style="color:#757575"> ... {len(chars) - max_chars} more</span>')
    parts.append("</div>")
    base = float(np.asarray(explanation.base_values, dtype=np.float64).ravel()[0])
    parts.append(
        '<div class="wb-heatmap-legend" style="font-size:small;color:#555">'
        f"base {base:+.3f}, output {base + float(values.sum()):+.3f}; "
        f'<span style="background:{_rgba(1.0, 1.0)}">&nbsp;red&nbsp;</span> towards bad, '
        f'<span style="background:{_rgba(-1.0, 1.0)}">&nbsp;blue&nbsp;</span> towards good'
        "</div>"
    )
    return SafeHTML("".join(parts))
