"""The main job end to end: ``wb demo`` twice on an empty warehouse, as ``make demo`` runs it.

The first run loads the samples, detects, trains, scores and renders five reports; the
second reuses the data and compares the new bot model with the first run's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REPORTS = {"traffic_overview", "model_report", "investigate", "triage", "monitor"}


def _demo(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own command line
        [sys.executable, "-m", "workbench.cli", "demo"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip


def _runs(reports: Path) -> list[dict]:
    """Every run's record, with ``folder`` added."""
    return [{**json.loads(p.read_text()), "folder": p.parent}
            for p in sorted(reports.glob("*/*/run.json"))]  # fmt: skip


@pytest.mark.slow
def test_the_demo_trains_scores_and_renders_every_report(tmp_path):
    env = {**os.environ, "WB_DATA_DIR": str(tmp_path / "warehouse"),
           "WB_REPORTS_DIR": str(tmp_path / "reports"), "WB_MODELS_DIR": str(tmp_path / "models")}  # fmt: skip
    for key in ("WB_DATABASE", "WB_CLICKHOUSE_URL", "WB_REDACT_KEY"):
        env.pop(key, None)
    first = _demo(env)
    assert first.returncode == 0, first.stderr[-4000:]
    assert f"Reports: {tmp_path / 'reports' / 'index.html'}" in first.stdout
    runs = _runs(tmp_path / "reports")
    assert {r["name"] for r in runs} == REPORTS and all(r["status"] == "ok" for r in runs)
    by_name = {r["name"]: r for r in runs}
    assert by_name["traffic_overview"]["headline"]["requests"] == 250_000
    assert by_name["model_report"]["headline"]["targets_met"] is True
    assert by_name["triage"]["headline"]["incidents"] > 0

    worst = by_name["investigate"]["parameters"]["entity"]
    assert f"most automated IP: {worst} " in first.stderr
    assert by_name["investigate"]["headline"]["bot_score"] < 30
    page = (by_name["investigate"]["folder"] / by_name["investigate"]["html"]).read_text()
    assert page.count('class="wb-heatmap"') == 3
    assert by_name["monitor"]["parameters"]["reference_end"] == "2026-11-02T00:00:00Z"

    models = tmp_path / "models" / "demo"
    assert (models / "bot-ip" / "card.json").is_file() and (models / "cnn-bot").is_dir()
    assert not (models / "bot-ip-previous").exists()
    index = (tmp_path / "reports" / "index.html").read_text()
    assert all(name in index for name in REPORTS)

    second = _demo(env)
    assert second.returncode == 0, second.stderr[-4000:]
    assert "already loaded" in second.stderr
    assert (models / "bot-ip-previous" / "card.json").is_file()
    latest = max((r for r in _runs(tmp_path / "reports") if r["name"] == "model_report"),
                 key=lambda r: r["started"])  # fmt: skip
    assert latest["parameters"]["previous"] == str(models / "bot-ip-previous")
