"""Small notebooks for runner tests: quick to execute, each showing one behaviour."""

from __future__ import annotations

from pathlib import Path

import nbformat

TINY_PARAMETERS = 'x = 1\nname = "a"\nstart = "-1h"\nend = "now"\nredact = False'
TINY_CELLS = [
    "from workbench.reporting import record\nrecord(x=x, doubled=2 * x, name=name)",
    'print("client 203.0.113.9 and 2001:db8::9, user=alice, mail bob@example.org")',
    'import plotly.graph_objects as go\ngo.Figure(go.Bar(x=["203.0.113.9", name], y=[1, x]))',
    'if x < 0:\n    raise ValueError("x must not be negative: " + name)',
    'from workbench.viz import html_table\nimport pandas as pd\nhtml_table(pd.DataFrame({"name": [name]}))',
]
STORE_CELLS = [
    "import os, time\n"
    "from workbench.reporting import record, report_store\n"
    "with report_store() as store:\n"
    "    entered = time.time()\n"
    "    n = int(store.query_df('SELECT count() AS n FROM http_requests').n[0])\n"
    "    time.sleep(hold)\n"
    "    left = time.time()\n"
    "record(n=n, entered=entered, left=left, pid=os.getpid())",
]


def make_notebook(
    path: Path, parameters: str, cells: list[str], title: str = "Tiny report"
) -> Path:
    """Write a notebook with a title, one ``parameters`` cell and code cells."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}"), params]
    nb.cells += [nbformat.v4.new_code_cell(source) for source in cells]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def tiny(folder: Path) -> Path:
    """The tiny template: records headline numbers, prints sensitive values, draws a figure."""
    return make_notebook(folder / "tiny.ipynb", TINY_PARAMETERS, TINY_CELLS)


def store_user(folder: Path) -> Path:
    """A template that holds the store ``hold`` seconds and records when."""
    return make_notebook(folder / "store_user.ipynb", "hold = 0.5", STORE_CELLS, "Store user")
