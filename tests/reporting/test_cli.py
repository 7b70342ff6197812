"""``wb report`` commands that need no kernel: schedule, due bookkeeping, list, templates, index."""

from __future__ import annotations

from typer.testing import CliRunner

from workbench.errors import InputError
from workbench.reporting.cli import app
from workbench.reporting.runs import append_ledger, reports_lock
from workbench.reporting.schedule import load_schedules

runner = CliRunner()
SCHEDULES = """
jobs:
  - {name: hourly, template: traffic_overview, cron: "5 * * * *", parameters: {start: -1h}}
"""


def test_schedule_shows_jobs_and_prints_crontab(tmp_path):
    path = tmp_path / "schedules.yaml"
    path.write_text(SCHEDULES)
    shown = runner.invoke(app, ["schedule", "--schedules", str(path), "--out", str(tmp_path)])
    assert shown.exit_code == 0, shown.output
    assert "hourly: 5 * * * * -> traffic_overview; last slot never; next " in shown.output
    cron = runner.invoke(app, ["schedule", "--schedules", str(path), "--print-crontab"])
    assert cron.exit_code == 0
    assert cron.output.strip().splitlines()[-1].startswith("*/5 * * * * cd ")
    assert f"report due --schedules {path}" in cron.output


def test_due_with_nothing_due_and_bad_input(tmp_path):
    path = tmp_path / "schedules.yaml"
    path.write_text(SCHEDULES)
    reports = tmp_path / "reports"
    with reports_lock(reports):  # this slot already ran
        append_ledger(reports, "claimed", job="hourly", slot="2026-11-22T07:05:00Z")
    done = runner.invoke(
        app,
        ["due", "--schedules", str(path), "--out", str(reports), "--now", "2026-11-22T07:30:00Z"],
    )
    assert done.exit_code == 0 and "nothing due" in done.output
    bad = runner.invoke(app, ["due", "--schedules", str(path), "--workers", "0"])
    assert isinstance(bad.exception, InputError) and "--workers" in str(bad.exception)
    bad_now = runner.invoke(app, ["due", "--schedules", str(path), "--now", "later"])
    assert isinstance(bad_now.exception, InputError)
    assert load_schedules(path)[0].parameters == {"start": "-1h"}


def test_list_templates_and_index(tmp_path):
    empty = runner.invoke(app, ["list", "--out", str(tmp_path)])
    assert empty.exit_code == 0 and "no report runs" in empty.output
    listed = runner.invoke(app, ["templates"])
    assert listed.exit_code == 0 and "traffic_overview: Traffic overview" in listed.output
    index = runner.invoke(app, ["index", "--out", str(tmp_path)])
    assert index.exit_code == 0 and (tmp_path / "index.html").exists()
