"""``reports/index.html``: every run, newest first, linked, with its headline numbers.

Built from the ``run.json`` files alone, so it can be rebuilt at any time (``wb report index``)
and survives runs made on other machines and copied in. The page has no script at all and a
Content-Security-Policy that forbids any; every value in it is escaped.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from workbench.reporting.locks import atomic_write
from workbench.reporting.runs import RunRecord, load_runs
from workbench.viz.html import escape, format_value

INDEX_FILE = "index.html"
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #212121; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #e0e0e0; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #eceff1; position: sticky; top: 0; }
td.num { text-align: right; white-space: nowrap; }
.ok { color: #2e7d32; font-weight: 600; } .failed { color: #c62828; font-weight: 600; }
.running { color: #8d6e00; font-weight: 600; }
.kv { margin: 0; padding: 0; list-style: none; } .kv li { white-space: nowrap; }
.muted { color: #757575; font-size: 0.85em; }
"""


def _items(values: dict) -> str:
    if not values:
        return '<span class="muted">-</span>'
    rows = "".join(f"<li>{escape(k)} = {escape(format_value(v))}</li>" for k, v in values.items())
    return f'<ul class="kv">{rows}</ul>'


def _row(run: RunRecord) -> str:
    href = "/".join(quote(part, safe="") for part in (run.name, run.run_id, run.html))
    status = run.status if run.status in ("ok", "failed", "running") else "failed"
    error = f'<div class="muted">{escape(run.error)}</div>' if run.error else ""
    flags = " (redacted)" if run.redacted else ""
    if run.job:
        flags += f" job {run.job}"
    return (
        "<tr>"
        f"<td>{escape(run.started.replace('T', ' '))}</td>"
        f'<td><a href="{escape(href)}">{escape(run.name)}</a>'
        f'<div class="muted">{escape(run.run_id)}{escape(flags)}</div></td>'
        f'<td class="{status}">{escape(run.status)}{error}</td>'
        f'<td class="num">{run.duration_s:.1f} s</td>'
        f"<td>{_items(run.parameters)}</td>"
        f"<td>{_items(run.headline)}</td>"
        f"<td>{escape(run.git_commit)}</td>"
        "</tr>"
    )


def index_html(runs: list[RunRecord]) -> str:
    """Return the index page for ``runs`` (in the order given).

    Parameters
    ----------
    runs : list of RunRecord
        Runs, newest first.

    Returns
    -------
    str
        A complete HTML page.
    """
    body = "".join(_row(r) for r in runs) or '<tr><td colspan="7">No reports yet.</td></tr>'
    failed = sum(r.status == "failed" for r in runs)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        "<title>Reports</title>"
        f"<style>{_STYLE}</style></head><body>"
        f'<h1>Reports</h1><p class="muted">{len(runs)} run(s), {failed} failed; newest first. '
        "Times are UTC.</p>"
        "<table><thead><tr><th>Started</th><th>Report</th><th>Status</th><th>Duration</th>"
        "<th>Parameters</th><th>Headline</th><th>Commit</th></tr></thead>"
        f"<tbody>{body}</tbody></table></body></html>\n"
    )


def build_index(reports_dir: str | Path) -> Path:
    """Rebuild ``index.html`` of a reports folder from its run records.

    The caller should hold :func:`workbench.reporting.runs.reports_lock` when other runs may
    finish at the same time; the file is replaced atomically either way.

    Parameters
    ----------
    reports_dir : str or Path
        The reports root.

    Returns
    -------
    Path
        The index file.
    """
    root = Path(reports_dir)
    return atomic_write(root / INDEX_FILE, index_html(load_runs(root)))
