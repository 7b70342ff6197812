"""run_report and run_due with real kernels: folders, HTML, metadata, failures, redaction, CLI.

Kernels get a data folder of their own (``env``): this test process may hold the run's
warehouse open, and chDB lets one process at a time open a folder.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from typer.testing import CliRunner

from tests.reporting.helpers import make_notebook, store_user, tiny
from workbench.errors import ConfigError, InputError, ReportError
from workbench.reporting import load_runs, run_due, run_report
from workbench.reporting.cli import app
from workbench.reporting.runs import read_ledger
from workbench.viz import plotly_js

pytestmark = pytest.mark.slow
KEY = "test-redaction-key-0123456789"
SENSITIVE = ("203.0.113.9", "2001:db8::9", "alice", "bob@example.org")


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    folder = tmp_path_factory.mktemp("templates")
    tiny(folder)
    store_user(folder)
    make_notebook(folder / "slow.ipynb", "seconds = 60", ["import time\ntime.sleep(seconds)"])
    return folder


@pytest.fixture
def kernel_env(tmp_path):
    return {"WB_DATA_DIR": str(tmp_path / "kernel-data"), "WB_DATABASE": "default"}


def test_a_run_makes_its_folder_html_metadata_ledger_and_index(
    templates, tmp_path, kernel_env, monkeypatch
):
    monkeypatch.setattr("workbench.reporting.runner.WARN_BYTES", 1_000_000)  # 10 MB in production
    reports = tmp_path / "out"
    result = run_report(templates / "tiny.ipynb", {"x": "3", "name": "<b>bold</b>"},
                        reports_dir=reports, env=kernel_env,
                        now=dt.datetime(2026, 11, 22, 6, 0, tzinfo=dt.UTC))  # fmt: skip
    rec = result.record
    assert result.ok, rec.error
    assert result.folder.parent == reports / "tiny" and re.fullmatch(
        r"\d{8}T\d{6}Z-[0-9a-f]{6}", rec.run_id
    )
    assert sorted(p.name for p in result.folder.iterdir()) == [
        "run.json",
        "tiny.html",
        "tiny.ipynb",
    ]
    saved = json.loads((result.folder / "run.json").read_text())
    assert saved["parameters"] == {"x": 3, "name": "<b>bold</b>", "start": "2026-11-22T05:00:00Z",
                                   "end": "2026-11-22T06:00:00Z", "redact": False}  # fmt: skip
    assert saved["window"] == {"start": "2026-11-22T05:00:00Z", "end": "2026-11-22T06:00:00Z"}
    assert saved["headline"] == {"x": 3, "doubled": 6, "name": "<b>bold</b>"}
    assert saved["status"] == "ok" and saved["duration_s"] > 0 and saved["git_commit"]
    assert saved["warnings"] == [
        f"the report is {saved['html_bytes'] / 2**20:.1f} MB (over 10 MB): lower `limit`, "
        "shorten the window or show fewer figures"
    ]
    page = result.html_path.read_text()
    assert saved["html_bytes"] == len(page.encode())
    assert "<script src=" not in page and 'src="http' not in page
    assert page.count("Plotly.newPlot") == 1  # one figure ...
    assert len(re.findall(r"plotly\.js v\d", page)) == 1  # ... and plotly.js inlined once
    assert "record(x=x" not in page  # code hidden
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "Data window" in page and "2026-11-22T05:00:00Z" in page and rec.git_commit in page
    finished = [e for e in read_ledger(reports) if e["event"] == "finished"]
    assert finished[-1]["run_id"] == rec.run_id and finished[-1]["status"] == "ok"
    index = (reports / "index.html").read_text()
    assert f'href="tiny/{rec.run_id}/tiny.html"' in index and "doubled = 6" in index


def test_a_failed_run_still_renders_and_is_recorded(templates, tmp_path, kernel_env):
    result = run_report(templates / "tiny.ipynb", {"x": -1}, reports_dir=tmp_path, env=kernel_env)
    assert not result.ok
    assert re.fullmatch(
        r"cell \d+ raised ValueError: x must not be negative: a", result.record.error
    )
    page = result.html_path.read_text()
    assert "This run failed" in page and "ValueError" in page and "x must not be negative" in page
    assert load_runs(tmp_path)[0].status == "failed"
    assert "failed" in (tmp_path / "index.html").read_text()


def test_a_cell_past_its_timeout_fails_the_run(templates, tmp_path, kernel_env):
    result = run_report(
        templates / "slow.ipynb", reports_dir=tmp_path, env=kernel_env, cell_timeout_s=2
    )
    assert not result.ok and "per-cell timeout of 2 s" in result.record.error
    assert result.record.duration_s < 40 and result.html_path.exists()


def test_a_kernel_that_cannot_start_fails_the_run(templates, tmp_path, kernel_env):
    broken = {**kernel_env, "PYTHONHOME": str(tmp_path / "no-python-here")}
    result = run_report(
        templates / "tiny.ipynb", reports_dir=tmp_path, env=broken, start_timeout_s=30
    )
    assert not result.ok and "the kernel died while starting" in result.record.error
    assert "This run failed" in result.html_path.read_text()


def test_redacted_run_leaves_no_sensitive_value(templates, tmp_path, kernel_env, monkeypatch):
    monkeypatch.setenv("WB_REDACT_KEY", KEY)
    result = run_report(templates / "tiny.ipynb", {"name": "alice"}, redact=True,
                        reports_dir=tmp_path, env=kernel_env)  # fmt: skip
    assert result.ok, result.record.error
    assert result.record.redacted and result.record.parameters["redact"] is True
    for path in (
        result.html_path,
        result.notebook_path,
        result.folder / "run.json",
        tmp_path / "index.html",
    ):
        text = path.read_text().replace(plotly_js(), "")  # the library itself names "aliceblue"
        for value in SENSITIVE:
            assert value not in text, (value, path.name)
    assert re.search(r"ip-[0-9a-f]{10}", result.html_path.read_text())
    assert result.record.headline["name"].startswith("user-")


def test_refusals_come_before_any_kernel(templates, tmp_path, monkeypatch):
    with pytest.raises(InputError, match="'api_key' looks like a secret"):
        run_report(templates / "tiny.ipynb", {"api_key": "x"}, reports_dir=tmp_path)
    with pytest.raises(
        InputError, match="has no parameter 'y'; it takes: x, name, start, end, redact"
    ):
        run_report(templates / "tiny.ipynb", {"y": "1"}, reports_dir=tmp_path)
    monkeypatch.delenv("WB_REDACT_KEY", raising=False)
    with pytest.raises(ConfigError, match="WB_REDACT_KEY"):
        run_report(templates / "tiny.ipynb", redact=True, reports_dir=tmp_path)
    with pytest.raises(ReportError, match="no report template 'nope'"):
        run_report("nope", reports_dir=tmp_path)
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_a_store_held_open_here_is_named(templates, tmp_path):
    from workbench.store import connect

    store = connect()  # the test run's warehouse, which the kernel would open too
    try:
        with pytest.raises(ReportError, match="close the stores"):
            run_report(templates / "tiny.ipynb", reports_dir=tmp_path)
    finally:
        store.close()


def test_cli_run_list_and_exit_status(templates, tmp_path, kernel_env, monkeypatch):
    for name, value in kernel_env.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    bad = runner.invoke(
        app, ["run", str(templates / "tiny.ipynb"), "-p", "x=-1", "--out", str(tmp_path)]
    )
    assert bad.exit_code != 0 and isinstance(bad.exception, ReportError)
    assert "failed: cell" in str(bad.exception) and "tiny.html" in str(bad.exception)
    secret = runner.invoke(app, ["run", "tiny", "-p", "db_password=x", "--out", str(tmp_path)])
    assert isinstance(secret.exception, InputError)
    listed = runner.invoke(app, ["list", "--out", str(tmp_path)])
    assert listed.exit_code == 0 and "tiny" in listed.output and "failed" in listed.output


def test_due_runs_jobs_in_parallel_and_isolates_failures(templates, tmp_path, kernel_env):
    schedules = tmp_path / "schedules.yaml"
    schedules.write_text(f"""
jobs:
  - {{name: store_a, template: {templates / "store_user.ipynb"}, cron: "*/5 * * * *", parameters: {{hold: 1.0}}}}
  - {{name: store_b, template: {templates / "store_user.ipynb"}, cron: "*/5 * * * *", parameters: {{hold: 1.0}}}}
  - {{name: broken, template: {templates / "tiny.ipynb"}, cron: "0 * * * *", parameters: {{x: -1}}}}
  - {{name: missing, template: nowhere, cron: "0 * * * *"}}
""")
    now = dt.datetime(2026, 11, 22, 7, 3, tzinfo=dt.UTC)
    reports = tmp_path / "reports"
    outcomes = run_due(schedules, now=now, workers=3, reports_dir=reports, env=kernel_env)
    status = {o.job: o.status for o in outcomes}
    assert status == {"store_a": "ok", "store_b": "ok", "broken": "failed", "missing": "failed"}
    assert "no report template 'nowhere'" in next(o.error for o in outcomes if o.job == "missing")
    runs = {r.job: r for r in load_runs(reports)}
    assert (
        runs["store_a"].slot == "2026-11-22T07:00:00Z"
        and runs["broken"].slot == "2026-11-22T07:00:00Z"
    )
    a, b = runs["store_a"].headline, runs["store_b"].headline
    assert a["pid"] != b["pid"]  # two kernels ...
    assert a["left"] <= b["entered"] or b["left"] <= a["entered"]  # ... took turns on the folder
    events = list(read_ledger(reports))
    assert sum(e["event"] == "claimed" for e in events) == 4
    assert sum(e["event"] == "finished" for e in events) == 4
    assert (
        run_due(schedules, now=now + dt.timedelta(minutes=1), reports_dir=reports, env=kernel_env)
        == []
    )
