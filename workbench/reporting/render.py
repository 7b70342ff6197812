"""Executed notebook to one self-contained HTML file: code hidden, plotly.js inlined once.

The page needs no network: nbconvert's CDN scripts (require.js, MathJax, mermaid, widgets)
are left out, plotly.js from the installed package is inlined once in ``<head>``, and every
plotly output (``application/vnd.plotly.v1+json``) becomes a ``<div>`` plus a small script
with the figure as escaped JSON. A Content-Security-Policy lets only scripts carrying the
page's random nonce run and forbids every fetch, so even a string that escaped escaping could
neither run script nor call out. A header says what the report is: parameters, data window,
model version, git commit, duration, status and, for a failed run, the error.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jinja2

from workbench.viz.embed import figure_html, plotly_script_tag
from workbench.viz.html import escape, format_value

PLOTLY_MIMETYPE = "application/vnd.plotly.v1+json"
_DROPPED = ("application/javascript", "application/vnd.jupyter.widget-view+json")
_TEMPLATE = "wb_report.html.j2"
_TEMPLATE_TEXT = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}
{{ resources.wb.head }}
{%- endblock html_head_js -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_css -%}
{{ resources.wb.css }}
{%- endblock html_head_css -%}
{%- block body_header -%}
{{ super() }}
{{ resources.wb.header }}
{%- endblock body_header -%}
"""
_CSS = """
.wb-header { font-family: system-ui, sans-serif; margin: 16px 16px 8px; padding: 12px 16px;
  border: 1px solid #cfd8dc; border-radius: 6px; background: #fafafa; }
.wb-header h1 { font-size: 1.5em; margin: 0 0 8px; }
.wb-status { display: inline-block; padding: 2px 10px; border-radius: 10px; color: #fff;
  font-weight: 600; font-size: 0.85em; vertical-align: middle; margin-left: 8px; }
.wb-status-ok { background: #2e7d32; } .wb-status-failed { background: #c62828; }
.wb-error { color: #b71c1c; font-weight: 600; white-space: pre-wrap; }
.wb-warning { color: #8d6e00; }
.jp-Notebook .wb-table { border-collapse: collapse; font-size: 0.85em; margin: 6px 0 12px;
  table-layout: auto; }
.jp-Notebook .wb-table th, .jp-Notebook .wb-table td { border: 1px solid #e0e0e0;
  padding: 3px 8px; text-align: left; vertical-align: top; max-width: 60em;
  overflow-wrap: anywhere; }
.jp-Notebook .wb-table th { background: #eceff1; white-space: nowrap; overflow-wrap: normal; }
.jp-Notebook .wb-table .num { text-align: right; white-space: nowrap; overflow-wrap: normal; }
.jp-Notebook .wb-table .time { white-space: nowrap; overflow-wrap: normal; }
.jp-Notebook .wb-kv th { width: 12em; }
.wb-note { color: #616161; font-size: 0.85em; }
"""


@dataclass
class ReportHeader:
    """What the top of a report says about its run.

    Attributes
    ----------
    title : str
        The report's title.
    name : str
        Template name.
    status : str
        ``ok`` or ``failed``.
    started : str
        ISO 8601 UTC.
    duration_s : float
        Wall time.
    parameters : dict
        Injected parameters.
    window : dict
        ``start``/``end`` covered.
    git_commit : str
        Project commit.
    model_version : str or None
        Model used, if any.
    context : dict
        Facts the notebook recorded (data actually seen ...).
    headline : dict
        Headline numbers.
    error : str or None
        What failed.
    redacted : bool
        Whether pseudonyms replace IPs, e-mails and accounts.
    notebook_file : str
        File name of the executed notebook next to the HTML.
    warnings : list of str
        Warnings to show.
    """

    title: str
    name: str
    status: str
    started: str
    duration_s: float
    parameters: dict[str, Any] = field(default_factory=dict)
    window: dict[str, Any] = field(default_factory=dict)
    git_commit: str = "unknown"
    model_version: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    headline: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    redacted: bool = False
    notebook_file: str = ""
    warnings: list[str] = field(default_factory=list)


def _pairs(values: Mapping[str, Any]) -> str:
    return "; ".join(f"{k} = {format_value(v)}" for k, v in values.items()) or "none"


def header_html(header: ReportHeader) -> str:
    """Return the escaped HTML of a report's header block.

    Parameters
    ----------
    header : ReportHeader
        What to show.

    Returns
    -------
    str
        Markup; every value is escaped.
    """
    status = "ok" if header.status == "ok" else "failed"
    window = (
        f"{header.window.get('start', '?')} \u2192 {header.window.get('end', '?')} (UTC)"
        if header.window
        else "not given"
    )
    rows = [
        ("Report", header.name),
        ("Status", status + (f": {header.error}" if header.error else "")),
        ("Started", header.started),
        ("Duration", f"{header.duration_s:.1f} s"),
        ("Data window", window),
    ]
    seen = header.context
    if seen.get("data_first") or seen.get("data_last"):
        rows.append(
            ("Data seen", f"{seen.get('data_first', '?')} \u2192 {seen.get('data_last', '?')}")
        )
    rows += [
        ("Model version", header.model_version or "none"),
        ("Git commit", header.git_commit),
        ("Parameters", _pairs(header.parameters)),
        ("Headline", _pairs(header.headline)),
        (
            "Redacted",
            "yes: IPs, e-mails and accounts are keyed pseudonyms" if header.redacted else "no",
        ),
    ]
    if header.notebook_file:
        rows.append(("Notebook", f"code hidden; the executed notebook is {header.notebook_file}"))
    body = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    parts = [
        '<header class="wb-header">',
        f'<h1>{escape(header.title)}<span class="wb-status wb-status-{status}">{status}</span></h1>',
        f'<table class="wb-table wb-kv"><tbody>{body}</tbody></table>',
    ]
    if header.error:
        parts.append(
            f'<p class="wb-error">This run failed: {escape(header.error)}. The output of the '
            "failing cell is shown below.</p>"
        )
    parts += [f'<p class="wb-warning">Warning: {escape(w)}</p>' for w in header.warnings]
    parts.append("</header>")
    return "".join(parts)


def prepare_outputs(nb: Any, nonce: str) -> Any:
    """Return a copy of ``nb`` whose outputs are ready for static HTML.

    Plotly outputs become a ``<div>`` and a nonce-carrying script that draws them; outputs that
    need a live kernel or run arbitrary JavaScript (``application/javascript``, widget views)
    are replaced by a note.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The executed (and, if asked, redacted) notebook.
    nonce : str
        The page's script nonce.

    Returns
    -------
    nbformat.NotebookNode
        The converted copy.
    """
    out = copy.deepcopy(nb)
    for cell in out.cells:
        for output in cell.get("outputs", []) or []:
            data = output.get("data")
            if not isinstance(data, dict):
                continue
            if PLOTLY_MIMETYPE in data:
                output["data"] = {"text/html": figure_html(data[PLOTLY_MIMETYPE], nonce=nonce)}
                continue
            dropped = [m for m in data if m in _DROPPED]
            for mimetype in dropped:
                del data[mimetype]
            if dropped and not data:
                data["text/plain"] = "[interactive output left out of the static report]"
    return out


def render_html(nb: Any, header: ReportHeader) -> str:
    """Render an executed notebook and its run header as one self-contained HTML page.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The executed (and, if asked, redacted) notebook.
    header : ReportHeader
        The run facts for the header.

    Returns
    -------
    str
        The page: inputs and prompts hidden, plotly.js inlined once, no external resources.
    """
    from nbconvert import HTMLExporter

    nonce = secrets.token_urlsafe(18)
    csp = (
        "default-src 'none'; "
        f"script-src 'nonce-{nonce}'; "
        "style-src 'unsafe-inline'; img-src data:; font-src data:; "
        "connect-src 'none'; base-uri 'none'; form-action 'none'"
    )
    head = (
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        f'<meta name="generator" content="workbench report">'
        f"{plotly_script_tag(nonce)}"
    )
    exporter = HTMLExporter(
        template_name="lab",
        template_file=_TEMPLATE,
        extra_loaders=[jinja2.DictLoader({_TEMPLATE: _TEMPLATE_TEXT})],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    prepared = prepare_outputs(nb, nonce)
    prepared.metadata["title"] = header.title
    body, _ = exporter.from_notebook_node(
        prepared,
        resources={
            "wb": {
                "head": head,
                "css": f'<style type="text/css">{_CSS}</style>',  # after nbconvert's, to win
                "header": header_html(header),
            }
        },
    )
    return body
