"""Plotly figures and safe HTML fragments for notebooks and reports (everything escaped)."""

from workbench.viz.embed import figure_html, plotly_js, plotly_script_tag, script_json
from workbench.viz.explain import char_heatmap, importance_bar, waterfall
from workbench.viz.figures import (
    STATUS_COLORS,
    plot_label,
    score_histogram,
    share_bar,
    status_mix,
    titled_layout,
    top_bar,
    volume_timeseries,
)
from workbench.viz.html import (
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

__all__ = [
    "STATUS_COLORS",
    "SafeHTML",
    "char_heatmap",
    "concat",
    "escape",
    "figure_html",
    "format_value",
    "heading",
    "html_table",
    "importance_bar",
    "key_value_table",
    "paragraph",
    "plot_label",
    "plotly_js",
    "plotly_script_tag",
    "score_histogram",
    "script_json",
    "share_bar",
    "status_mix",
    "titled_layout",
    "top_bar",
    "truncate",
    "visible",
    "volume_timeseries",
    "waterfall",
]
