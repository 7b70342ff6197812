"""The tour notebook, executed in a fresh kernel on a day of synthetic traffic."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from workbench.reporting.execute import execute_notebook

REPO = Path(__file__).resolve().parents[2]
TOUR = REPO / "notebooks" / "explore" / "01-tour.ipynb"
PLOTLY = "application/vnd.plotly.v1+json"


def test_tour_is_committed_clean():
    nb = nbformat.read(TOUR, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    assert sum("parameters" in c.metadata.get("tags", []) for c in code) == 1


@pytest.mark.slow
def test_tour_runs_on_sample_traffic(tmp_path):
    folder = tmp_path / "warehouse"
    done = subprocess.run(  # noqa: S603 - fills a folder this process never opens
        [sys.executable, "-m", "tests.notebooks.data", str(folder)],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    window = {"start": "2026-11-01 00:00:00", "end": "2026-11-02 00:00:00"}
    run = execute_notebook(TOUR, {**window, "models_dir": str(tmp_path / "models")},
                           env={"WB_DATA_DIR": str(folder), "WB_DATABASE": "default"},
                           cwd=REPO, cell_timeout_s=300)  # fmt: skip
    assert run.status == "ok", run.error
    outputs = [o for c in run.notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    figures = [o for o in outputs if PLOTLY in o.get("data", {})]
    assert len(figures) == 6  # volume, top IPs, features, scores, importance, waterfall
    shown = " ".join(o["data"].get("text/html", "") for o in outputs if "data" in o)
    assert "wb-heatmap" in shown  # ... and the request heat map
    assert any(ip in shown or ip in json.dumps(f["data"][PLOTLY]) for ip in loaded["ips"]
               for f in figures)  # fmt: skip
    for name in ("bot-ip", "cnn-bot"):
        assert (tmp_path / "models" / name / "card.json").is_file()
